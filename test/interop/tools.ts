import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * External protobuf tools the interop and export suites drive. A missing tool fails the suite
 * with one line saying what to install: these suites never skip.
 */

export const INSTALL_HINT = 'apt-get install -y protobuf-compiler python3-protobuf';
/** Debian's python, which is where python3-protobuf installs (not a pyenv one on PATH). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
/** The buf CLI shipped inside the `@bufbuild/buf` npm package. */
export const BUF = resolve(__dirname, '../../node_modules/.bin/buf');

export interface RunResult { stdout: string; stderr: string }

/** Runs a command to completion; a non-zero exit throws with its stderr. */
export function run(cmd: string, args: readonly string[], options: { input?: Uint8Array; cwd?: string } = {}): RunResult {
  const r = spawnSync(cmd, args, { input: options.input, cwd: options.cwd, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  const stdout = r.stdout.toString('utf8');
  const stderr = r.stderr.toString('utf8');
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${stderr}${stdout}`);
  }
  return { stdout, stderr };
}

/** Fails with the install line when protoc is not on PATH. */
export function requireProtoc(): void {
  const r = spawnSync('protoc', ['--version']);
  if (r.error || r.status !== 0) throw new Error(`protoc is not installed: ${INSTALL_HINT}`);
}

/** Fails with the install line when /usr/bin/python3 cannot import google.protobuf. */
export function requirePythonProtobuf(): void {
  const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import google.protobuf.message_factory, google.protobuf.json_format']);
  if (r.error || r.status !== 0) throw new Error(`${SYSTEM_PYTHON} with google.protobuf is not available: ${INSTALL_HINT}`);
}

/** Fails with the install line when the buf CLI from `@bufbuild/buf` is absent. */
export function requireBuf(): void {
  const r = existsSync(BUF) ? spawnSync(BUF, ['--version']) : undefined;
  if (!r || r.error || r.status !== 0) throw new Error('buf is not installed: npm install --save-dev @bufbuild/buf');
}

/** A fresh temporary directory; remove it with {@link removeTmpDir}. */
export function makeTmpDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `weft-${label}-`));
}

export function removeTmpDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** `protoc --descriptor_set_in=<set> --decode=<type>` with the payload on stdin: the text format. */
export function protocDecode(setPath: string, typeName: string, payload: Uint8Array): string {
  return run('protoc', [`--descriptor_set_in=${setPath}`, `--decode=${typeName}`], { input: payload }).stdout;
}
