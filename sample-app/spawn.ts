/**
 * Starts and stops the worker processes that `npm start` runs when `REDIS_URL` is set: separate
 * Node processes running `sample-app/worker.ts`, which attach with only `REDIS_URL` and `WEFT_PREFIX`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EnvLike } from '../core/app';

/** The repository root (where `node_modules` and `tsconfig.json` are). */
const ROOT = join(__dirname, '..');

/** One spawned worker process. */
export interface SpawnedWorker {
  readonly pid: number;
  /** Resolves when the worker has attached and consumes its queues; rejects if it exits first. */
  readonly ready: Promise<void>;
  /** Resolves to the exit code (`null` when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves to the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Options of {@link spawnWorkers}. */
export interface SpawnOptions {
  /** The workers' environment; they read `REDIS_URL` and `WEFT_PREFIX` from it. */
  readonly env: EnvLike;
  /** Receives every line the workers print, prefixed `[worker <pid>]`. */
  readonly onLine: (line: string) => void;
}

/**
 * Spawns `count` workers: `node -r ts-node/register sample-app/worker.ts`. They compile with
 * `TS_NODE_TRANSPILE_ONLY=1` unless the environment says otherwise (the parent has already
 * type-checked the same sources), and have an IPC channel, so they stop when the parent goes.
 */
export function spawnWorkers(count: number, options: SpawnOptions): SpawnedWorker[] {
  return Array.from({ length: count }, () => spawnOne(options));
}

function spawnOne({ env, onLine }: SpawnOptions): SpawnedWorker {
  const child: ChildProcess = spawn(process.execPath, ['-r', 'ts-node/register', join(ROOT, 'sample-app', 'worker.ts')], {
    cwd: ROOT,
    env: { ...env, TS_NODE_TRANSPILE_ONLY: env.TS_NODE_TRANSPILE_ONLY ?? '1' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const pid = child.pid ?? 0;
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => onLine(`[worker ${pid}] ${line}`));
  }
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (e) => {
      onLine(`[worker ${pid}] could not start: ${e.message}`);
      resolve(1);
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: unknown) => {
      if ((m as { type?: unknown } | null)?.type === 'ready') resolve();
    });
    void exited.then((code) => reject(new Error(`worker ${pid} exited with code ${String(code)} before it was ready`)));
  });
  ready.catch(() => undefined); // whoever awaits it sees the rejection; nobody awaiting is fine
  return {
    pid,
    ready,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
