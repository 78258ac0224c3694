/**
 * The contract between the throughput benchmark (bench/throughput.ts) and each system it measures.
 *
 * A system moves no-op tasks through Redis: a submitter hands a task to the system, a worker in the
 * same process runs a handler that does nothing but return a small value, and the result travels
 * back to the submitter. "Done" means the submitter holds the result, the way an application would:
 * through the system's own result path (a reply stream, an events stream...), never through a
 * shortcut such as a callback inside the worker.
 *
 * Lifecycle, driven by the harness:
 *
 *   setup(prefix)            once; connect, create the worker(s), wait until ready
 *   prepare(c)?              untimed, before each timed batch; e.g. set the worker concurrency to c
 *   runBatch(n, c)           timed by the harness from call to resolution
 *   runOne()                 timed by the harness from call to resolution, many times
 *   teardown()               once; close every connection, delete every key under the prefix
 *
 * Systems are interleaved: several systems are set up at the same time on the same Redis, and the
 * harness alternates between them, so an idle system must not busy-poll Redis (blocking reads are
 * fine; their few wake-ups are counted in whichever system's commands-per-task window they fall).
 */
export interface System {
  /** Short name used in the table and in the JSON keys (`weft`, `bullmq`, `raw`). */
  readonly name: string;
  /** One line shown under the table: what this system's figures mean. */
  readonly description: string;

  /**
   * Connects and starts a worker. Every Redis key the system creates must start with `prefix`.
   * Throw {@link SystemUnavailable} when the system cannot run here (e.g. its code is not written
   * yet): the harness then skips it and reports its fields as null.
   */
  setup(prefix: string): Promise<void>;

  /** Optional untimed hook before each timed batch: get the worker ready to run `concurrency` tasks at once. */
  prepare?(concurrency: number): Promise<void>;

  /**
   * Submits `n` tasks, in bulk the way the system's API allows, and resolves when the submitter has
   * every result; the worker runs at most `concurrency` handlers at once. It must check that each
   * result is the value the handler returned for that task, and reject otherwise.
   */
  runBatch(n: number, concurrency: number): Promise<void>;

  /** Submits one task and resolves when the submitter has its (checked) result. */
  runOne(): Promise<void>;

  /** Closes every connection and timer it opened (the process must exit by itself) and deletes its keys. */
  teardown(): Promise<void>;
}

/** Thrown by {@link System.setup} when the system cannot run in this checkout; the message says why. */
export class SystemUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SystemUnavailable';
  }
}

/** Where the benchmark's Redis is: `BENCH_REDIS_URL`, else `REDIS_URL`, else the local server. */
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** How many tasks one bulk submission carries (BullMQ `addBulk`, one pipeline of XADDs...). */
export const BULK_SIZE = (() => {
  const v = Number(process.env.BENCH_BULK);
  return Number.isInteger(v) && v > 0 ? v : 1000;
})();
