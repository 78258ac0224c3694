/**
 * Workflow throughput: how fast a fan-out and its fan-in go through the orchestrator, and how many
 * small flows run at once, on the memory plugins and over Redis, in one process (one worker at
 * concurrency 50, one orchestrator).
 *
 *   npm run bench -- flows
 *
 * Flow: `split` (one item → a batch of `count` numbers) → `forEach` `square` (one child per number,
 * lineage index = position) → `collect` `total` (the squares, in index order). Reported: children
 * per second for a fan-out of BENCH_FANOUT (1000), start to end event, best and median of
 * BENCH_ROUNDS (5) runs; and flows per second for BENCH_FLOWS (200) flows of 3 children started at
 * once (their ends polled every 10 ms).
 * Knobs: BENCH_FANOUT, BENCH_ROUNDS, BENCH_FLOWS, BENCH_REDIS_URL or REDIS_URL.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Field, Output, Run, Task } from '../decorators';
import { flow } from '../core/workflow';
import type { Weft as WeftApp } from '../core/runtime/weft';
import { memoryPlugin, redisPlugin, Weft } from '../plugins';
import { connect, deletePrefix } from './systems/redis-util';
import { BENCH_REDIS_URL } from './systems/system';

const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
};
const FANOUT = envInt('BENCH_FANOUT', 1000);
const ROUNDS = envInt('BENCH_ROUNDS', 5);
const FLOWS = envInt('BENCH_FLOWS', 200);

@Output('benchflow.Count')
export class CountIn {
  @Field(1, 'uint32') count!: number;
}

@Output('benchflow.Number')
export class Num {
  @Field(1, 'uint32') n!: number;
}

@Output('benchflow.Numbers')
export class Numbers {
  @Field(1, () => [Num]) values: Num[] = [];
}

@Output('benchflow.Total')
export class Total {
  @Field(1, 'uint64') sum!: bigint;
  @Field(2, 'uint32') count!: number;
}

@Task('benchflow.split', { queue: 'benchflow', output: () => Numbers })
export class SplitTask {
  @Run() async run(x: CountIn): Promise<Numbers> {
    return Object.assign(new Numbers(), { values: Array.from({ length: x.count }, (_, i) => Object.assign(new Num(), { n: i })) });
  }
}

@Task('benchflow.square', { queue: 'benchflow', output: () => Num })
export class SquareTask {
  @Run() async run(x: Num): Promise<Num> {
    return Object.assign(new Num(), { n: x.n * x.n });
  }
}

@Task('benchflow.total', { queue: 'benchflow', output: () => Total })
export class TotalTask {
  @Run() async run(x: Numbers): Promise<Total> {
    return Object.assign(new Total(), { sum: x.values.reduce((s, v) => s + BigInt(v.n), 0n), count: x.values.length });
  }
}

const squares = flow('benchflow.squares').step(SplitTask).forEach(SquareTask, { over: 'values' }).collect(TotalTask, { into: 'values' });

const expected = (n: number): bigint => Array.from({ length: n }, (_, i) => BigInt(i * i)).reduce((a, b) => a + b, 0n);
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function measure(name: string, app: WeftApp): Promise<Record<string, number>> {
  app.flows.register(squares);
  await app.worker({ tasks: [SplitTask, SquareTask, TotalTask], concurrency: 50 });
  await app.orchestrator();
  /**
   * Starts a flow and waits for its end: a lone flow follows its events (the end is seen as soon as
   * it is written); many at once poll the store every 10 ms (one blocking read each would need a
   * connection each). Then checks the result.
   */
  const run = async (count: number, key: string, follow: boolean): Promise<void> => {
    const handle = await app.flows.start(squares, Object.assign(new CountIn(), { count }), { businessKey: key });
    if (follow) {
      for await (const ev of app.subscribe(handle.executionId, { signal: AbortSignal.timeout(120_000) })) {
        if (ev.kind === 'workflow_failed' || ev.kind === 'workflow_cancelled') break;
      }
    }
    const out = await handle.result({ timeoutMs: 120_000, pollMs: 10 });
    if (out.count !== count || out.sum !== expected(count)) throw new Error(`flows bench: ${key} gave ${out.count} items, sum ${out.sum}`);
  };
  const tag = randomBytes(4).toString('hex');
  await run(Math.min(FANOUT, 200), `warm-${tag}`, true);
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    await run(FANOUT, `fan-${tag}-${r}`, true);
    rates.push(FANOUT / ((performance.now() - t0) / 1000));
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: FLOWS }, (_, i) => run(3, `small-${tag}-${i}`, false)));
  const flowsPerS = FLOWS / ((performance.now() - t0) / 1000);
  console.log(`${name.padEnd(7)} fan-out of ${FANOUT}: ${Math.round(median(rates)).toLocaleString('en-US')} children/s (median; best ` +
    `${Math.round(Math.max(...rates)).toLocaleString('en-US')}); ${FLOWS} flows of 1+3+1 steps at once: ${Math.round(flowsPerS).toLocaleString('en-US')} flows/s`);
  return { children_per_s: Math.round(median(rates)), flows_per_s: Math.round(flowsPerS) };
}

export async function run(): Promise<void> {
  console.log(`flows: split → forEach square (fan-out ${FANOUT}) → collect total; one worker (concurrency 50) and one orchestrator per system`);
  const out: Record<string, Record<string, number>> = {};
  const memory = await Weft.create({ plugins: [memoryPlugin()], config: { logLevel: 'warn' } });
  try {
    out.memory = await measure('memory', memory);
  } finally {
    await memory.close();
  }
  const prefix = `bench:flows:${process.pid}`;
  const redis = await Weft.create({ plugins: [redisPlugin({ url: BENCH_REDIS_URL, prefix })], config: { logLevel: 'warn' } });
  try {
    out.redis = await measure('redis', redis);
  } finally {
    await redis.close();
    const c = connect('bench-flows-clean');
    await deletePrefix(c, prefix).finally(() => c.quit());
  }
  console.log(JSON.stringify(out));
}
