/**
 * The Weft sample that `npm start` runs.
 *
 * 1. Typed messages: register a schema, round-trip an order, refuse bad data (local, no services).
 * 2. The order pipeline, a flow (sample-app/pipeline.ts): ingestion, enrichment fanned out per
 *    order, aggregation into a report; progress lines from the flow's events, then a summary.
 *
 * Embedded by default: the memory plugins, a worker and an orchestrator in this process. With
 * `REDIS_URL` set, the same program runs distributed: it spawns `SAMPLE_WORKERS` (default 2) worker
 * processes (`sample-app/worker.ts`), which attach with only `REDIS_URL` and `WEFT_PREFIX` and run
 * the tasks and an orchestrator each; this process only submits, starts the flow and follows its
 * events. Workers started with `npm run sample:worker` join in.
 */
import 'reflect-metadata';
import { SchemaRegistry } from '../core/registry';
import { schemaOf, ValidationError, WeftError } from '../core';
import Redis from 'ioredis';
import { MemorySchemaStore } from '../plugins/memory';
import { streamKey, deadLetterKey, eventStreamKey } from '../plugins/redis';
import { eventsStream, type WorkflowEvent } from '../core/events';
import { FLOWS_QUEUE } from '../core/workflow';
import { Weft } from '../plugins';
import { IngestRequest, lineItem, Order, Priority } from './messages';
import { SAMPLE_STREAM_MAXLEN, sampleConnection, sampleLogLevel, type SampleConnection } from './config';
import { summaryLines } from './format';
import { itemLabel, ordersFlow, runOrdersPipeline } from './pipeline';
import { spawnWorkers, type SpawnedWorker } from './spawn';
import { EnrichOrder, PriceOrder, SAMPLE_TASKS } from './tasks';
import { taskDefinitionOf } from '../core';

async function main(): Promise<void> {
  // Distributed: start the worker processes first, so that they boot while this one works.
  const connection = sampleConnection();
  let workers: SpawnedWorker[] = [];
  if (connection.mode !== 'embedded') {
    const count = intFromEnv('SAMPLE_WORKERS', DEFAULT_WORKERS, 0, 16);
    workers = spawnWorkers(count, { env: process.env, onLine: (line) => console.log(line) });
  }
  try {
    const order = await demoMessages();
    await runSample(order, connection, workers);
  } finally {
    const codes = await Promise.all(workers.map((w) => w.stop()));
    if (workers.length) console.log(`stopped the spawned workers (exit codes ${codes.join(', ')})`);
    if (codes.some((c) => c !== 0)) process.exitCode = 1;
  }
}

/** Part 1: schemas, the codec and the registry, locally. */
async function demoMessages(): Promise<Order> {
  const registry = new SchemaRegistry(new MemorySchemaStore());
  const schema = schemaOf(Order);

  // Producer: register the schema once, then encode.
  const { version } = await registry.ensure(schema);
  console.log(`registered ${schema.fullName} v${version} as schema ${schema.id} (${schema.bytes.length} descriptor bytes)`);

  const a = lineItem('KB-101', 2, 4999n);
  const b = lineItem('MS-7', 1, 2599n);
  const order = Object.assign(new Order(), {
    id: 'ord-1001',
    total: a.totalCents + b.totalCents,
    items: [a, b],
    byWarehouse: new Map([['eu-west', [a]], ['us-east', [b]]]),
    placedAt: new Date('2026-11-25T09:30:00.250Z'),
    priority: Priority.High,
  });
  const payload = schema.codec.encode(order);
  console.log(`encoded order: ${payload.length} bytes of protobuf (JSON would be ${jsonSize(order)} bytes)`);

  // Consumer: only the schema id and the payload travel; resolve the id, then decode.
  const resolved = await registry.resolve(schema.id);
  console.log(`resolved ${resolved.id}: messages ${resolved.messageNames.join(', ')}`);
  const copy = schema.codec.decode(payload);
  console.log(`decoded: ${copy instanceof Order ? 'an Order instance' : 'NOT an Order'}, ` +
    `total ${copy.total}, ${copy.items.length} items, first line ${copy.items[0].totalCents} cents, ` +
    `eu-west holds ${copy.byWarehouse.get('eu-west')?.map((i) => i.sku).join(',')}, ` +
    `placed ${copy.placedAt.toISOString()}, note ${String(copy.note)}`);

  // Bad data never leaves the producer: every violation is reported with its path.
  try {
    schema.codec.encode(Object.assign(new Order(), { ...order, items: [lineItem('', 0, 1n)] }));
  } catch (e) {
    if (e instanceof ValidationError) console.log(`refused on encode [${e.code}]: ${e.violations.map((v) => v.path).join(', ')}`);
    else throw e;
  }
  // Hostile bytes become a coded error, never a crash.
  try {
    schema.codec.decode(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
  } catch (e) {
    if (e instanceof WeftError) console.log(`refused on decode [${e.code}]`);
    else throw e;
  }
  return order;
}

/** How many worker processes `npm start` spawns when distributed: `SAMPLE_WORKERS`, default 2 (0: rely on `npm run sample:worker`). */
const DEFAULT_WORKERS = 2;

/** Part 2: a task, then the order pipeline, embedded or over Redis. */
async function runSample(order: Order, connection: SampleConnection, workers: readonly SpawnedWorker[]): Promise<void> {
  const orderCount = intFromEnv('SAMPLE_ORDERS', 12, 1, 1000);
  const batchId = process.env.SAMPLE_BATCH_ID || `b${Date.now().toString(36)}`;
  const say = (line: string): void => console.log(line);

  if (connection.mode === 'embedded') {
    say(`mode: embedded (memory plugins; producer, worker and orchestrator in this process, pid ${process.pid})`);
  } else {
    say(`mode: distributed over ${describe(connection)}; this process (pid ${process.pid}) only submits and follows events`);
    say(workers.length
      ? `spawned ${workers.length} worker process${workers.length === 1 ? '' : 'es'}: ${workers.map((w) => `pid ${w.pid}`).join(', ')} (the queues hold the work until they attach)`
      : 'spawned no worker (SAMPLE_WORKERS=0): start one with `npm run sample:worker` (it runs the tasks and an orchestrator)');
  }

  const app = await Weft.create({ plugins: connection.plugins, config: { name: 'sample', logLevel: sampleLogLevel() } });
  try {
    if (connection.mode === 'embedded') {
      // Distributed, the worker processes do both (sample-app/worker.ts); this process runs neither.
      app.flows.register(ordersFlow);
      await app.worker({ tasks: [...SAMPLE_TASKS], concurrency: 8 });
      await app.orchestrator();
    }

    const guard = new Watchdog(workers);
    // One task end to end.
    const handle = await app.submit(PriceOrder, order);
    const invoice = await guard.watch(handle.result());
    say(`task demo.priceOrder on ${app.app.transport.name}: invoice for ${invoice.orderId}, ` +
      `${invoice.lines} lines, ${invoice.totalCents} cents (progress seen: ${JSON.stringify(handle.status().progress)})`);

    // The pipeline: start the flow, print its events as they come.
    const request = Object.assign(new IngestRequest(), { batchId, orderCount, seed: 7 });
    say(`flow ${ordersFlow.name}: batch ${batchId}, ${orderCount} orders: ingest -> enrich x${orderCount} (forEach) -> report (collect)`);
    const started = Date.now();
    const result = await guard.watch(runOrdersPipeline(app, request, {
      onEvent: (e) => {
        guard.touch();
        say(eventLine(e));
      },
    }));
    say(`flow done in ${Date.now() - started} ms, execution ${result.executionId}` +
      (result.deduplicated ? ' (batch started before: nothing ran again, these are the first run\'s events and report)' : ''));
    for (const line of summaryLines(result.report)) say(line);
    if (connection.mode === 'redis') await printInspection(connection, result.executionId);
  } finally {
    await app.close();
  }
}

/**
 * Waits for work that needs a worker: prints a hint when nothing has happened for a while (no
 * worker running?), and fails when every worker this process spawned has exited.
 */
class Watchdog {
  private static readonly QUIET_MS = 15_000;
  private timer?: NodeJS.Timeout;
  private readonly gone: Promise<never> | undefined;

  constructor(workers: readonly SpawnedWorker[]) {
    this.gone = workers.length === 0 ? undefined : Promise.all(workers.map((w) => w.exited)).then((codes) => {
      throw new WeftError('SAMPLE_WORKERS_EXITED', `every spawned worker exited (codes ${codes.join(', ')}) before the work was done; ` +
        'their output above says why (is REDIS_URL reachable from them?)');
    });
    this.gone?.catch(() => undefined);
  }

  /** Resolves like `work`, unless the spawned workers are all gone first. */
  async watch<T>(work: Promise<T>): Promise<T> {
    this.touch();
    try {
      return await (this.gone ? Promise.race([work, this.gone]) : work);
    } finally {
      clearTimeout(this.timer);
    }
  }

  /** Something happened: restart the quiet timer. */
  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => console.log('... nothing has happened for 15 s: is a worker running? ' +
      '(`REDIS_URL=... npm run sample:worker`: it runs the tasks and an orchestrator)'), Watchdog.QUIET_MS);
    this.timer.unref();
  }
}

/** One console line per workflow event. */
function eventLine(e: WorkflowEvent): string {
  const who = itemLabel(e.step, e.index).padEnd(10);
  const error = e.error ? `${e.error.code}: ${e.error.message}` : '';
  switch (e.kind) {
    case 'step_started':
      return `  ${who} started`;
    case 'progress':
      return `  ${who} ${e.percent === undefined ? '    ' : `${String(Math.round(e.percent)).padStart(3)}%`} ${e.message ?? ''}`;
    case 'step_completed':
      return `  ${who} done`;
    case 'step_failed':
      return `  ${who} failed ${error}`;
    case 'workflow_completed':
      return `  flow ${ordersFlow.name} completed`;
    case 'workflow_failed':
      return `  flow ${ordersFlow.name} failed${error ? ` ${error}` : ''}`;
    case 'workflow_cancelled':
      return `  flow ${ordersFlow.name} cancelled${e.message ? `: ${e.message}` : ''}`;
  }
}

function describe(c: SampleConnection): string {
  if (c.mode === 'redis') return `Redis ${c.url} (prefix ${c.prefix})`;
  if (c.mode === 'other') return c.transport;
  return 'memory';
}

/**
 * Tells the operator where to look in Redis: the queue streams (the tasks' and the flows queue)
 * are not deleted after a run, they keep what went through (trimmed only by `MAXLEN ~`); the
 * execution's event stream expires a day after its last event.
 */
async function printInspection(c: Extract<SampleConnection, { mode: 'redis' }>, executionId: string): Promise<void> {
  const queues = [...new Set([...SAMPLE_TASKS.map((t) => taskDefinitionOf(t).queue), FLOWS_QUEUE])];
  const events = eventStreamKey(c.prefix, eventsStream(executionId));
  const redis = new Redis(c.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const lengths = await Promise.all(queues.map((q) => redis.xlen(streamKey(c.prefix, q))));
    console.log(`streams kept in Redis (retention: about the newest ${SAMPLE_STREAM_MAXLEN} entries each, XADD MAXLEN ~): ` +
      queues.map((q, i) => `${streamKey(c.prefix, q)} ${lengths[i]}`).join(', '));
    console.log(`the flow's events: ${events} ${await redis.xlen(events)} (expires 24 h after its last event)`);
  } catch (e) {
    console.log(`could not read the stream lengths (${e instanceof Error ? e.message : String(e)})`);
  } finally {
    redis.disconnect();
  }
  const enrich = taskDefinitionOf(EnrichOrder).queue;
  console.log(`inspect: redis-cli -u ${c.url} XRANGE '${streamKey(c.prefix, enrich)}' - + COUNT 2 ` +
    `(also XLEN, XINFO GROUPS; dead letters: XLEN '${deadLetterKey(c.prefix, enrich)}'); ` +
    `the flow's events: XRANGE '${events}' - + COUNT 5; the flows queue: XINFO GROUPS '${streamKey(c.prefix, FLOWS_QUEUE)}'`);
}

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new WeftError('SAMPLE_CONFIG_INVALID', `${name}=${JSON.stringify(raw)} is not an integer from ${min} to ${max}; fix or unset it`);
  }
  return n;
}

function jsonSize(order: Order): number {
  return Buffer.byteLength(JSON.stringify(order, (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v instanceof Map ? Object.fromEntries(v) : v));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
