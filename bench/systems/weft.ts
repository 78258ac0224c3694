/**
 * Weft in the throughput benchmark.
 *
 * STATUS: the Weft runtime (issue 3: `@Task`, `Weft.create`, the Redis Streams transport, workers)
 * is being written. Until the modules below exist and export what this adapter needs, `setup`
 * throws SystemUnavailable, the harness prints "weft: runtime not available yet (…)" and skips
 * Weft, and the JSON reports every weft field as null.
 *
 * TO COMPLETE when the runtime lands: adjust `loadWeft()` (module paths and export names) and the
 * five calls marked API below to the real API. Nothing else in the benchmark needs to change; the
 * harness only sees the `System` interface (bench/systems/system.ts). Requirements on the adapter:
 *   - every Redis key it creates starts with the prefix given to setup() (pass it to the Redis
 *     plugin as its key prefix), and teardown() deletes them;
 *   - runBatch() submits in bulk (`submitMany`, which pipelines its writes) and resolves once the
 *     SUBMITTER holds every result (`handle.result()`), checking each value;
 *   - the worker runs with the concurrency given to prepare()/runBatch();
 *   - teardown() closes the worker, the app and every connection, so the process exits by itself.
 */
import 'reflect-metadata';
import { Field, Output } from '../../decorators';
import { connect, deletePrefix } from './redis-util';
import { BENCH_REDIS_URL, BULK_SIZE, System, SystemUnavailable } from './system';

@Output('bench.NoopInput')
export class NoopInput {
  @Field(1, 'uint32') n!: number;
}

@Output('bench.NoopOutput')
export class NoopOutput {
  @Field(1, 'uint32') n!: number;
}

/** The no-op task: returns its input number. */
export class NoopTask {
  async run(input: NoopInput): Promise<NoopOutput> {
    return Object.assign(new NoopOutput(), { n: input.n });
  }
}

// --- The slice of the Weft API this adapter uses (API: adjust to the real one) -------------------

interface ResultHandle { result(): Promise<unknown> }
interface WeftWorker { close(): Promise<void> }
interface WeftApp {
  submit(task: unknown, input: unknown): Promise<ResultHandle>;
  submitMany(task: unknown, inputs: readonly unknown[]): Promise<readonly ResultHandle[]>;
  worker(options: { tasks: readonly unknown[]; concurrency: number }): Promise<WeftWorker>;
  close(): Promise<void>;
}
interface WeftBindings {
  create(options: { plugins: readonly unknown[] }): Promise<WeftApp>;
  redisPlugin(options: { url: string; prefix: string }): unknown;
  Task(name: string, options: Record<string, unknown>): ClassDecorator;
}

/** Loads the runtime, or returns what is missing. */
function loadWeft(): WeftBindings | string {
  const missing: string[] = [];
  const load = (path: string): Record<string, unknown> | undefined => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(path) as Record<string, unknown>;
    } catch (e) {
      const code = (e as { code?: string }).code;
      // A module that exists but fails to load is a bug to report, not "not written yet".
      // (Only the first line of the message names the module; the rest is the require stack.)
      const firstLine = String((e as Error).message).split('\n')[0];
      if (code !== 'MODULE_NOT_FOUND' || !firstLine.includes(`'${path}'`)) throw e;
      missing.push(path.replace(/^(\.\.\/)+/, ''));
      return undefined;
    }
  };
  const runtime = load('../../core/runtime');
  const app = load('../../core/app');
  const redis = load('../../plugins/redis');
  const decorators = load('../../decorators');
  const weft = (app?.Weft ?? runtime?.Weft) as { create?: unknown } | undefined;
  const create = weft?.create;
  const redisPlugin = redis?.redisPlugin;
  const Task = decorators?.Task ?? runtime?.Task ?? app?.Task;
  if (typeof create !== 'function') missing.push('Weft.create');
  if (typeof redisPlugin !== 'function') missing.push('redisPlugin (plugins/redis)');
  if (typeof Task !== 'function') missing.push('@Task');
  if (missing.length) return `missing ${[...new Set(missing)].join(', ')}`;
  return {
    create: (options) => (create as (o: unknown) => Promise<WeftApp>).call(weft, options),
    redisPlugin: redisPlugin as WeftBindings['redisPlugin'],
    Task: Task as WeftBindings['Task'],
  };
}

class WeftSystem implements System {
  readonly name = 'weft';
  readonly description = 'Weft: app.submitMany / submit → worker (no-op @Task) → handle.result() over the Redis Streams transport';

  private prefix = '';
  private app: WeftApp | undefined;
  private worker: WeftWorker | undefined;
  private workerConcurrency = 0;
  private seq = 0;

  async setup(prefix: string): Promise<void> {
    const weft = loadWeft();
    if (typeof weft === 'string') throw new SystemUnavailable(`weft: runtime not available yet (${weft})`);
    this.prefix = prefix;
    await this.clean();
    weft.Task('bench.noop', { queue: 'bench', output: () => NoopOutput, input: () => NoopInput })(NoopTask); // API
    this.app = await weft.create({ plugins: [weft.redisPlugin({ url: BENCH_REDIS_URL, prefix })] }); // API
    await this.prepare(50);
  }

  async prepare(concurrency: number): Promise<void> {
    if (!this.app || (this.worker && this.workerConcurrency === concurrency)) return;
    await this.worker?.close();
    this.worker = await this.app.worker({ tasks: [NoopTask], concurrency }); // API
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
      const handles = await this.app.submitMany(NoopTask, inputs); // API
      handles.forEach((h, k) => results.push(h.result().then((out) => check(out, inputs[k].n))));
    }
    await Promise.all(results);
  }

  async runOne(): Promise<void> {
    if (!this.app) throw new Error('weft: not set up');
    const n = this.seq++;
    const out = await (await this.app.submit(NoopTask, Object.assign(new NoopInput(), { n }))).result(); // API
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
