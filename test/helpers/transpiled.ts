import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';

/** Fixture entry points transpiled to plain JavaScript, for child processes that must start fast. */
export interface TranspiledFixtures {
  /** The directory holding the JavaScript, mirroring the repository layout. */
  readonly dir: string;
  /** The JavaScript file of a TypeScript file of the repository (absolute path in, absolute path out). */
  jsOf(tsFile: string): string;
  /** The environment a child needs on top of its own: `NODE_PATH` to the repository's `node_modules`. */
  readonly env: Readonly<Record<string, string>>;
  /** Deletes the directory. */
  remove(): void;
}

const COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.CommonJS,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  esModuleInterop: true,
  sourceMap: false,
};

/** The `.ts` file a relative import from `from` names, if it exists. */
function resolveImport(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return undefined;
}

/**
 * Transpiles `entries` and every repository file they import (relative imports, followed
 * transitively) to CommonJS in a temporary directory, without type checking (as
 * `TS_NODE_TRANSPILE_ONLY` would).
 *
 * @remarks
 * A child process started with `ts-node` spends about 3 s of CPU transpiling the runtime before it
 * does anything; the crash tests start dozens of short-lived processes on two cores, so they run
 * the JavaScript made here once per suite instead (about 0.5 s per start). Packages resolve from the
 * repository's `node_modules` through `NODE_PATH` (see {@link TranspiledFixtures.env}).
 */
export function transpileFixtures(repoRoot: string, entries: readonly string[]): TranspiledFixtures {
  const dir = mkdtempSync(join(tmpdir(), 'weft-fixtures-'));
  const seen = new Set<string>();
  const queue = entries.map((e) => resolve(e));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const imported of ts.preProcessFile(source, true, true).importedFiles) {
      if (!imported.fileName.startsWith('.')) continue;
      const target = resolveImport(file, imported.fileName);
      if (target && !seen.has(target)) queue.push(target);
    }
    const { outputText } = ts.transpileModule(source, { compilerOptions: COMPILER_OPTIONS, fileName: file });
    const out = join(dir, relative(repoRoot, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  return {
    dir,
    jsOf: (tsFile) => join(dir, relative(repoRoot, resolve(tsFile))).replace(/\.ts$/, '.js'),
    env: { NODE_PATH: join(repoRoot, 'node_modules') },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
