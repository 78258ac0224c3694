/**
 * A sample worker: `npm run sample:worker`. It attaches to Redis with nothing but `REDIS_URL` (and
 * `WEFT_PREFIX`, default `weft`), runs the sample's tasks and an orchestrator of the `orders` flow
 * until SIGINT or SIGTERM, then finishes the tasks in flight and exits 0. Start as many as you
 * like, on any machine that reaches Redis: they share the tasks' queues and the flows queue.
 *
 * `npm start` spawns two of these itself (sample-app/spawn.ts); those also stop when their parent goes.
 */
import 'reflect-metadata';
import { hostname } from 'node:os';
import { taskDefinitionOf } from '../core';
import { Weft } from '../plugins';
import { sampleConnection, sampleLogLevel } from './config';
import { ordersFlow } from './pipeline';
import { SAMPLE_TASKS } from './tasks';

/** Tasks one worker process runs at once. */
export const SAMPLE_WORKER_CONCURRENCY = 8;

async function main(): Promise<void> {
  const connection = sampleConnection();
  if (connection.mode === 'embedded') {
    console.error('sample worker: no REDIS_URL. A separate worker needs a shared transport: set REDIS_URL ' +
      '(e.g. REDIS_URL=redis://127.0.0.1:6379 npm run sample:worker). Embedded, `npm start` runs its own worker in-process.');
    process.exitCode = 1;
    return;
  }
  const app = await Weft.create({ plugins: connection.plugins, config: { name: 'sample-worker', logLevel: sampleLogLevel() } });
  let stopping: Promise<void> | undefined;
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    // Spawned by `npm start`: stop with the parent, even if it dies without signalling.
    if (process.send) process.once('disconnect', () => resolve('parent gone'));
  });
  try {
    app.flows.register(ordersFlow); // checks the flow's edges; the orchestrator runs the flows registered
    const worker = await app.worker({ tasks: [...SAMPLE_TASKS], concurrency: SAMPLE_WORKER_CONCURRENCY });
    await app.orchestrator();
    const where = connection.mode === 'redis' ? `${connection.url} prefix ${connection.prefix}` : connection.transport;
    const tasks = SAMPLE_TASKS.map((t) => taskDefinitionOf(t).name).join(', ');
    console.log(`worker pid ${process.pid}@${hostname()} ready on ${where}: ${tasks} (concurrency ${SAMPLE_WORKER_CONCURRENCY}), ` +
      `orchestrator of flow ${ordersFlow.name}`);
    process.send?.({ type: 'ready', pid: process.pid });
    const why = await stopped;
    stopping = app.close();
    await stopping;
    console.log(`worker pid ${process.pid} stopped (${why}) after ${worker.completed} tasks`);
  } finally {
    await (stopping ?? app.close());
    if (process.connected) process.disconnect();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
