/**
 * The ceiling: what one Node process gets from Redis Streams with plain ioredis and no framework.
 *
 *   submitter   XADD of each task to `<prefix>:tasks` (one pipeline per bulk of tasks)
 *   worker      XREADGROUP GROUP g COUNT <free slots> BLOCK, runs the no-op handler for each entry,
 *               then one pipeline: XACK of the batch + one XADD per result to `<prefix>:replies`
 *   submitter   a blocking XREAD loop on `<prefix>:replies` hands each result to its waiter
 *
 * Four connections: submitter writes, submitter's blocking reply reader, worker's blocking reader,
 * worker writes. No retries, no reclaim, no dead letters, no schemas: a reference, not a product.
 */
import type Redis from 'ioredis';
import { connect, deletePrefix, entriesOf, field } from './redis-util';
import { BULK_SIZE, System } from './system';

const GROUP = 'g';
const MAXLEN = '100000';

/** The handler: no work, a small result. */
const handler = async (n: string): Promise<string> => `ok:${n}`;

interface Waiting {
  readonly first: number;
  readonly seen: Uint8Array;
  remaining: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

class RawStreams implements System {
  readonly name = 'raw';
  readonly description = 'raw ioredis Streams: XADD → XREADGROUP → XACK + reply XADD → XREAD (no framework, the ceiling)';

  private prefix = '';
  private tasksKey = '';
  private repliesKey = '';
  private submitter!: Redis;
  private replyReader!: Redis;
  private workerReader!: Redis;
  private workerWriter!: Redis;
  private concurrency = 50;
  private seq = 0;
  private waiting: Waiting | undefined;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private failure: Error | undefined;

  async setup(prefix: string): Promise<void> {
    this.prefix = prefix;
    this.tasksKey = `${prefix}:tasks`;
    this.repliesKey = `${prefix}:replies`;
    this.submitter = connect('bench-raw-submit');
    this.replyReader = connect('bench-raw-replies');
    this.workerReader = connect('bench-raw-worker-read');
    this.workerWriter = connect('bench-raw-worker-write');
    await deletePrefix(this.submitter, prefix);
    await this.submitter.xgroup('CREATE', this.tasksKey, GROUP, '$', 'MKSTREAM');
    // The reply stream starts empty, so the reader can start from 0-0 without missing anything.
    this.loops = [this.replyLoop(), this.workerLoop()];
  }

  async prepare(concurrency: number): Promise<void> {
    this.concurrency = concurrency;
  }

  runBatch(n: number, concurrency: number): Promise<void> {
    this.concurrency = concurrency;
    const first = this.seq;
    this.seq += n;
    const done = this.expect(first, n);
    void (async () => {
      for (let i = 0; i < n; i += BULK_SIZE) {
        const p = this.submitter.pipeline();
        for (let k = i; k < Math.min(n, i + BULK_SIZE); k++) {
          p.xadd(this.tasksKey, 'MAXLEN', '~', MAXLEN, '*', 'n', String(first + k));
        }
        const res = await p.exec();
        const err = res?.find(([e]) => e)?.[0];
        if (err) throw err;
      }
    })().catch((e: unknown) => this.fail(e));
    return done;
  }

  runOne(): Promise<void> {
    const n = this.seq++;
    const done = this.expect(n, 1);
    this.submitter.xadd(this.tasksKey, 'MAXLEN', '~', MAXLEN, '*', 'n', String(n)).catch((e: unknown) => this.fail(e));
    return done;
  }

  async teardown(): Promise<void> {
    this.stopping = true;
    // The loops are parked in blocking reads: closing their connections ends them.
    this.replyReader.disconnect();
    this.workerReader.disconnect();
    await Promise.allSettled(this.loops);
    try {
      await deletePrefix(this.submitter, this.prefix);
    } finally {
      await Promise.allSettled([this.submitter.quit(), this.workerWriter.quit()]);
    }
  }

  private expect(first: number, n: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting) return Promise.reject(new Error('raw: one operation at a time'));
    return new Promise<void>((resolve, reject) => {
      this.waiting = { first, seen: new Uint8Array(n), remaining: n, resolve, reject };
    });
  }

  private fail(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.failure ??= err;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
  }

  private async replyLoop(): Promise<void> {
    let last = '0-0';
    while (!this.stopping) {
      let reply: unknown;
      try {
        reply = await this.replyReader.xread('COUNT', 5000, 'BLOCK', 0, 'STREAMS', this.repliesKey, last);
      } catch (e) {
        if (!this.stopping) this.fail(e);
        return;
      }
      for (const { id, fields } of entriesOf(reply)) {
        last = id;
        const n = Number(field(fields, 'n'));
        const w = this.waiting;
        const i = w ? n - w.first : -1;
        if (!w || i < 0 || i >= w.seen.length || w.seen[i]) {
          this.fail(new Error(`raw: unexpected reply for task ${n}`));
          continue;
        }
        if (field(fields, 'r') !== `ok:${n}`) {
          this.fail(new Error(`raw: wrong result for task ${n}: ${field(fields, 'r')}`));
          continue;
        }
        w.seen[i] = 1;
        if (--w.remaining === 0) {
          this.waiting = undefined;
          w.resolve();
        }
      }
    }
  }

  private async workerLoop(): Promise<void> {
    while (!this.stopping) {
      let reply: unknown;
      try {
        reply = await this.workerReader.xreadgroup('GROUP', GROUP, 'w1', 'COUNT', this.concurrency, 'BLOCK', 0,
          'STREAMS', this.tasksKey, '>');
      } catch (e) {
        if (!this.stopping) this.fail(e);
        return;
      }
      const entries = entriesOf(reply);
      if (!entries.length) continue;
      const results = await Promise.all(entries.map((e) => handler(field(e.fields, 'n') ?? '')));
      const p = this.workerWriter.pipeline();
      p.xack(this.tasksKey, GROUP, ...entries.map((e) => e.id));
      for (let k = 0; k < entries.length; k++) {
        p.xadd(this.repliesKey, 'MAXLEN', '~', MAXLEN, '*', 'n', field(entries[k].fields, 'n') ?? '', 'r', results[k]);
      }
      // Not awaited: the next read goes out while the acks and replies are written (one connection
      // each, so the writes stay in order).
      p.exec().then((res) => {
        const err = res?.find(([e]) => e)?.[0];
        if (err) this.fail(err);
      }, (e: unknown) => { if (!this.stopping) this.fail(e); });
    }
  }
}

export function createSystem(): System {
  return new RawStreams();
}
