/**
 * BullMQ, used the way its documentation shows: a Queue to add jobs, a Worker with a concurrency
 * limit running a no-op processor, and QueueEvents for the submitter to learn that a job finished.
 *
 * How the submitter learns of completion:
 * - Batches: ONE `completed` listener on a QueueEvents (started and ready before the first job is
 *   added), which records each `{ jobId, returnvalue }`; the batch is done when every job id returned
 *   by `addBulk` has its event. This is the cheapest correct path BullMQ offers: the worker already
 *   writes a `completed` event (with the return value) to the queue's events stream inside its
 *   finishing script, and one blocking XREAD connection delivers them all. `job.waitUntilFinished`
 *   per job would add one `isFinished` script call per job plus a pair of listeners per job; polling
 *   job state would add round trips. Listening to the Worker's own `completed` event would be a
 *   shortcut that only works because the worker happens to share the submitter's process.
 * - One in flight: `queue.add` then `job.waitUntilFinished(queueEvents)`, the documented way to
 *   wait for one job (one listener + one `isFinished` check, so a job that finished before the
 *   listener was registered is not missed).
 *
 * Configuration: BullMQ defaults (completed jobs are kept, as by default), except that the events
 * stream's approximate MAXLEN is raised from 10,000 to 200,000 so that a burst of 20,000 bulk-added
 * jobs (about three events each) cannot trim `completed` events before the QueueEvents reader has
 * seen them. That changes no per-job work (XADD … MAXLEN ~ costs the same).
 */
import { Job, Queue, QueueEvents, Worker } from 'bullmq';
import { connect, deletePrefix } from './redis-util';
import { BENCH_REDIS_URL, BULK_SIZE, System } from './system';

const QUEUE = 'tp';

interface Payload { n: number }

function connectionOptions(): { host: string; port: number; username?: string; password?: string; db?: number } {
  const u = new URL(BENCH_REDIS_URL);
  const db = Number(u.pathname.replace('/', ''));
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
  };
}

class BullMQSystem implements System {
  readonly name = 'bullmq';
  readonly description = `BullMQ ${bullmqVersion()}: Queue.addBulk / add → Worker (no-op processor) → QueueEvents "completed"`;

  private prefix = '';
  private queue!: Queue<Payload, number>;
  private worker!: Worker<Payload, number>;
  private events!: QueueEvents;
  private seq = 0;
  /** Batch mode: completions by job id, recorded as the events arrive. */
  private completed: Map<string, unknown> | undefined;
  private onCompleted: (() => void) | undefined;
  private failure: Error | undefined;

  async setup(prefix: string): Promise<void> {
    this.prefix = prefix;
    const connection = connectionOptions();
    const cleaner = connect('bench-bullmq-clean');
    try { await deletePrefix(cleaner, prefix); } finally { await cleaner.quit(); }
    this.queue = new Queue<Payload, number>(QUEUE, { connection, prefix, streams: { events: { maxLen: 200_000 } } });
    this.events = new QueueEvents(QUEUE, { connection, prefix });
    this.worker = new Worker<Payload, number>(QUEUE, async (job: Job<Payload, number>) => job.data.n, {
      connection, prefix, concurrency: 50,
    });
    this.worker.on('failed', (job, err) => this.fail(new Error(`bullmq: job ${job?.id} failed: ${err.message}`)));
    this.worker.on('error', (err) => this.fail(err));
    this.events.on('error', (err) => this.fail(err));
    this.events.on('failed', ({ jobId, failedReason }) => this.fail(new Error(`bullmq: job ${jobId} failed: ${failedReason}`)));
    this.events.on('completed', ({ jobId, returnvalue }) => {
      if (!this.completed) return;
      this.completed.set(jobId, returnvalue);
      this.onCompleted?.();
    });
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady(), this.worker.waitUntilReady()]);
  }

  async prepare(concurrency: number): Promise<void> {
    this.worker.concurrency = concurrency;
  }

  async runBatch(n: number, concurrency: number): Promise<void> {
    if (this.worker.concurrency !== concurrency) this.worker.concurrency = concurrency;
    if (this.failure) throw this.failure;
    const completed = new Map<string, unknown>();
    this.completed = completed;
    const expected = new Map<string, number>();
    let allAdded = false;
    const done = new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.failure) return reject(this.failure);
        if (allAdded && completed.size >= n && [...expected.keys()].every((id) => completed.has(id))) resolve();
      };
      this.onCompleted = () => { if (this.failure || completed.size >= n) check(); };
      const add = async (): Promise<void> => {
        for (let i = 0; i < n; i += BULK_SIZE) {
          const bulk = [];
          for (let k = i; k < Math.min(n, i + BULK_SIZE); k++) bulk.push({ name: 'noop', data: { n: this.seq + k } });
          const jobs = await this.queue.addBulk(bulk);
          for (const job of jobs) expected.set(job.id as string, job.data.n);
        }
      };
      add().then(() => { allAdded = true; check(); }, reject);
    });
    try {
      await done;
    } finally {
      this.completed = undefined;
      this.onCompleted = undefined;
      this.seq += n;
    }
    for (const [id, value] of expected) {
      if (completed.get(id) !== value) throw new Error(`bullmq: job ${id} returned ${String(completed.get(id))}, expected ${value}`);
    }
  }

  async runOne(): Promise<void> {
    const n = this.seq++;
    const job = await this.queue.add('noop', { n });
    const value = await job.waitUntilFinished(this.events, 10_000);
    if (value !== n) throw new Error(`bullmq: job ${job.id} returned ${String(value)}, expected ${n}`);
  }

  async teardown(): Promise<void> {
    await Promise.allSettled([this.worker?.close(), this.events?.close()]);
    try {
      await this.queue?.obliterate({ force: true });
    } finally {
      await this.queue?.close();
      const cleaner = connect('bench-bullmq-clean');
      try { await deletePrefix(cleaner, this.prefix); } finally { await cleaner.quit(); }
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.onCompleted?.();
  }
}

function bullmqVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('bullmq/package.json') as { version: string }).version;
  } catch {
    return '';
  }
}

export function createSystem(): System {
  return new BullMQSystem();
}
