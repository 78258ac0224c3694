/**
 * Weft in the throughput benchmark: `app.submitMany` / `submit` → worker running a no-op `@Task`
 * → `handle.result()` in the submitter, over the Redis Streams transport. Every key it creates is
 * under the prefix given to setup(), and teardown() deletes them and closes every connection.
 */
import 'reflect-metadata';
import { Field, Output, Run, Task } from '../../decorators';
import type { Weft as WeftApp } from '../../core/runtime/weft';
import type { Worker } from '../../core/runtime/worker';
import { redisPlugin, Weft } from '../../plugins';
import { connect, deletePrefix } from './redis-util';
import { BENCH_REDIS_URL, BULK_SIZE, System } from './system';

@Output('bench.NoopInput')
export class NoopInput {
  @Field(1, 'uint32') n!: number;
}

@Output('bench.NoopOutput')
export class NoopOutput {
  @Field(1, 'uint32') n!: number;
}

/** The no-op task: returns its input number. */
@Task('bench.noop', { queue: 'bench', output: () => NoopOutput })
export class NoopTask {
  @Run()
  async run(input: NoopInput): Promise<NoopOutput> {
    return Object.assign(new NoopOutput(), { n: input.n });
  }
}

class WeftSystem implements System {
  readonly name = 'weft';
  readonly description = 'Weft: app.submitMany / submit → worker (no-op @Task) → handle.result() over the Redis Streams transport';

  private prefix = '';
  private app: WeftApp | undefined;
  private worker: Worker | undefined;
  private workerConcurrency = 0;
  private seq = 0;

  async setup(prefix: string): Promise<void> {
    this.prefix = prefix;
    await this.clean();
    this.app = await Weft.create({ plugins: [redisPlugin({ url: BENCH_REDIS_URL, prefix })], config: { logLevel: 'warn' } });
    await this.prepare(50);
  }

  async prepare(concurrency: number): Promise<void> {
    if (!this.app || (this.worker && this.workerConcurrency === concurrency)) return;
    await this.worker?.close();
    this.worker = await this.app.worker({ tasks: [NoopTask], concurrency });
    this.workerConcurrency = concurrency;
  }

  async runBatch(n: number, concurrency: number): Promise<void> {
    if (!this.app) throw new Error('weft: not set up');
    if (concurrency !== this.workerConcurrency) await this.prepare(concurrency);
    const first = this.seq;
    this.seq += n;
    const results: Promise<void>[] = [];
    for (let i = 0; i < n; i += BULK_SIZE) {
      const inputs: NoopInput[] = [];
      for (let k = i; k < Math.min(n, i + BULK_SIZE); k++) inputs.push(Object.assign(new NoopInput(), { n: first + k }));
      const handles = await this.app.submitMany(NoopTask, inputs);
      handles.forEach((h, k) => results.push(h.result().then((out) => check(out, inputs[k].n))));
    }
    await Promise.all(results);
  }

  async runOne(): Promise<void> {
    if (!this.app) throw new Error('weft: not set up');
    const n = this.seq++;
    const out = await (await this.app.submit(NoopTask, Object.assign(new NoopInput(), { n }))).result();
    check(out, n);
  }

  async teardown(): Promise<void> {
    try {
      await this.worker?.close();
      await this.app?.close();
    } finally {
      if (this.prefix) await this.clean();
    }
  }

  private async clean(): Promise<void> {
    const client = connect('bench-weft-clean');
    try { await deletePrefix(client, this.prefix); } finally { await client.quit(); }
  }
}

function check(out: unknown, n: number): void {
  if (!(out instanceof NoopOutput) || out.n !== n) {
    throw new Error(`weft: task ${n} returned ${JSON.stringify(out)}, expected NoopOutput { n: ${n} }`);
  }
}

export function createSystem(): System {
  return new WeftSystem();
}
