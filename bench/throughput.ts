/**
 * Throughput benchmark: end-to-end no-op tasks over Redis, from submit until the result is
 * available to the submitter, for Weft, BullMQ and raw ioredis Streams, side by side in one run on
 * the same Redis.
 *
 *   npm run bench -- throughput
 *
 * Each system (bench/systems/*.ts, behind the `System` interface of bench/systems/system.ts) runs
 * its worker in this process and uses its own key prefix; its keys are deleted at the end.
 *
 * Phases (systems are set up together and interleaved; the order rotates from round to round):
 *   warm-up       one batch of min(N, BENCH_WARMUP_N) at concurrency 50 (long enough for the JIT to
 *                 settle on every system's hot path) and BENCH_WARMUP one-in-flight tasks
 *   c=50          BENCH_ROUNDS rounds; in each, every system runs one batch of N tasks, submitted in
 *                 bulks of BENCH_BULK, with a worker concurrency of 50.
 *                 tasks/s = N / (first submit → last result held by the submitter); the median
 *                 round is reported. Redis commands per task = the `INFO commandstats` delta of
 *                 those rounds (sum of calls over every command, INFO itself excluded) / tasks.
 *   c=1           one batch of BENCH_N1 tasks with a worker concurrency of 1.
 *   one in flight BENCH_SAMPLES times: submit one task, wait for its result (worker concurrency 50);
 *                 in chunks of 250 per system, rotating → p50 / p99 in ms.
 *
 * Knobs: BENCH_N (20000), BENCH_ROUNDS (7), BENCH_N1 (2000), BENCH_SAMPLES (2000),
 * BENCH_WARMUP (300), BENCH_WARMUP_N (10000), BENCH_BULK (1000), BENCH_SYSTEMS (weft,bullmq,raw), BENCH_REDIS_URL or
 * REDIS_URL (redis://127.0.0.1:6379).
 *
 * The last line printed is a JSON object:
 *   {"weft_per_s":…,"bullmq_per_s":…,"ratio":…,"weft_p50_ms":…,"bullmq_p50_ms":…,"redis_cmds_per_task":…, …}
 * with `redis_cmds_per_task` being Weft's, followed by the other systems' figures. A system that
 * could not run has null fields.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { connect } from './systems/redis-util';
import { BENCH_REDIS_URL, BULK_SIZE, System, SystemUnavailable } from './systems/system';

const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
};

const N = envInt('BENCH_N', 20_000);
const ROUNDS = envInt('BENCH_ROUNDS', 7);
const N1 = envInt('BENCH_N1', 2_000);
const SAMPLES = envInt('BENCH_SAMPLES', 2_000);
const WARMUP = envInt('BENCH_WARMUP', 300);
const WARMUP_N = envInt('BENCH_WARMUP_N', 10_000);
const CHUNK = 250;
const CONCURRENCY = 50;

/* eslint-disable @typescript-eslint/no-require-imports */
const FACTORIES: Record<string, () => System> = {
  weft: () => (require('./systems/weft') as { createSystem(): System }).createSystem(),
  bullmq: () => (require('./systems/bullmq') as { createSystem(): System }).createSystem(),
  raw: () => (require('./systems/raw-streams') as { createSystem(): System }).createSystem(),
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface Figures {
  readonly system: System;
  readonly prefix: string;
  status: 'ok' | 'unavailable' | 'failed';
  note?: string;
  rates: number[];
  cmds: number;
  cmdTasks: number;
  /** Commands this process sent to Redis during the timed rounds (a pipelined command counts once). */
  requests: number;
  c1PerS?: number;
  latencies: number[];
  topCommands: Map<string, number>;
}

/**
 * Counts the commands this process sends to Redis, through every ioredis client (the systems' own
 * and their duplicates): `sendCommand` runs once per command, pipelined or not.
 */
const requestCounter = { on: false, sent: 0 };
{
  const proto = Redis.prototype as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const original = proto.sendCommand;
  proto.sendCommand = function (this: unknown, ...args: unknown[]) {
    if (requestCounter.on) requestCounter.sent++;
    return original.apply(this, args);
  };
}

/** Sum of `calls` per command from `INFO commandstats`, the INFO command itself excluded. */
async function commandCalls(stats: Redis): Promise<Map<string, number>> {
  const text = await stats.info('commandstats');
  const calls = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (m && m[1] !== 'info') calls.set(m[1], Number(m[2]));
  }
  return calls;
}

function delta(before: Map<string, number>, after: Map<string, number>, into?: Map<string, number>): number {
  let total = 0;
  for (const [cmd, n] of after) {
    const d = n - (before.get(cmd) ?? 0);
    if (d > 0) {
      total += d;
      into?.set(cmd, (into.get(cmd) ?? 0) + d);
    }
  }
  return total;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]): number => {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
/** Nearest-rank percentile. */
const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]);
const int = (n: number | undefined): string => (n === undefined ? '—' : Math.round(n).toLocaleString('en-US'));
const fixed = (n: number | undefined, d: number): string => (n === undefined ? '—' : n.toFixed(d));
const round = (n: number | undefined, d: number): number | null =>
  n === undefined || !Number.isFinite(n) ? null : Math.round(n * 10 ** d) / 10 ** d;

export async function run(): Promise<void> {
  const names = (process.env.BENCH_SYSTEMS ?? 'weft,bullmq,raw').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !FACTORIES[n]);
  if (unknown.length) throw new Error(`BENCH_SYSTEMS: unknown system(s) ${unknown.join(', ')}; known: ${Object.keys(FACTORIES).join(', ')}`);
  const runId = `bench:tp:${process.pid}-${randomBytes(3).toString('hex')}`;
  const stats = connect('bench-throughput-stats');
  const all: Figures[] = names.map((name) => ({
    system: FACTORIES[name](), prefix: `${runId}:${name}`, status: 'ok',
    rates: [], cmds: 0, cmdTasks: 0, requests: 0, latencies: [], topCommands: new Map(),
  }));
  const active = (): Figures[] => all.filter((f) => f.status === 'ok');
  /** Runs one step of one system; a failure takes that system out of the run, not the whole run. */
  const step = async (f: Figures, what: string, fn: () => Promise<void>): Promise<void> => {
    if (f.status !== 'ok') return;
    try {
      await fn();
    } catch (e) {
      f.status = e instanceof SystemUnavailable ? 'unavailable' : 'failed';
      f.note = e instanceof SystemUnavailable ? e.message : `${f.system.name}: ${what} failed: ${(e as Error).stack ?? String(e)}`;
      console.log(f.note);
    }
  };

  const started = now();
  try {
    const server = await stats.info('server');
    const version = /redis_version:(\S+)/.exec(server)?.[1] ?? '?';
    console.log(`throughput: no-op tasks end to end over Redis ${version} at ${BENCH_REDIS_URL}; Node ${process.version}`);
    console.log(`N=${N} × ${ROUNDS} rounds at concurrency ${CONCURRENCY}, N1=${N1} at concurrency 1, ` +
      `${SAMPLES} one-in-flight samples (after ${WARMUP} warm-up), bulks of ${BULK_SIZE}; keys under ${runId}:*`);

    for (const f of all) await step(f, 'setup', () => f.system.setup(f.prefix));
    for (const f of active()) {
      await step(f, 'warm-up', async () => {
        await f.system.prepare?.(CONCURRENCY);
        await f.system.runBatch(Math.min(N, WARMUP_N), CONCURRENCY);
        for (let i = 0; i < WARMUP; i++) await f.system.runOne();
      });
    }

    // What Redis does while every system is idle (blocking reads waking up, other clients of a
    // shared server): counted into the commands-per-task windows below, so show it.
    const idle0 = await commandCalls(stats);
    const idleT0 = now();
    await sleep(500);
    const idlePerS = delta(idle0, await commandCalls(stats)) / ((now() - idleT0) / 1000);

    let timedMs = 0;
    for (let r = 0; r < ROUNDS; r++) {
      for (const f of rotate(active(), r)) {
        await step(f, `concurrency-${CONCURRENCY} round ${r + 1}`, async () => {
          await f.system.prepare?.(CONCURRENCY);
          const before = await commandCalls(stats);
          const t0 = now();
          const sent0 = requestCounter.sent;
          requestCounter.on = true;
          await f.system.runBatch(N, CONCURRENCY).finally(() => { requestCounter.on = false; });
          f.requests += requestCounter.sent - sent0;
          const ms = now() - t0;
          const after = await commandCalls(stats);
          timedMs += ms;
          f.rates.push(N / (ms / 1000));
          f.cmds += delta(before, after, f.topCommands);
          f.cmdTasks += N;
        });
      }
    }

    for (const f of active()) {
      await step(f, 'concurrency-1 batch', async () => {
        await f.system.prepare?.(1);
        const t0 = now();
        await f.system.runBatch(N1, 1);
        f.c1PerS = N1 / ((now() - t0) / 1000);
        await f.system.prepare?.(CONCURRENCY);
      });
    }

    for (let done = 0, k = 0; done < SAMPLES; done += CHUNK, k++) {
      const count = Math.min(CHUNK, SAMPLES - done);
      for (const f of rotate(active(), k)) {
        await step(f, 'one-in-flight', async () => {
          for (let i = 0; i < count; i++) {
            const t0 = now();
            await f.system.runOne();
            f.latencies.push(now() - t0);
          }
        });
      }
    }

    const report = summarize(all, idlePerS, timedMs);
    for (const line of report.lines) console.log(line);
    await teardown(all, stats, runId);
    console.log(`total ${((now() - started) / 1000).toFixed(1)} s`);
    console.log(JSON.stringify(report.json));
  } finally {
    await stats.quit().catch(() => stats.disconnect());
  }
}

async function teardown(all: readonly Figures[], stats: Redis, runId: string): Promise<void> {
  for (const f of all) {
    try {
      await f.system.teardown();
    } catch (e) {
      console.log(`${f.system.name}: teardown failed: ${(e as Error).message}`);
    }
  }
  let left = 0;
  let cursor = '0';
  do {
    const [next, keys] = await stats.scan(cursor, 'MATCH', `${runId}:*`, 'COUNT', 1000);
    cursor = next;
    left += keys.length;
    if (keys.length) await stats.unlink(...keys);
  } while (cursor !== '0');
  console.log(left ? `cleanup: ${left} key(s) were left under ${runId}:* by a system's teardown; deleted them`
    : `cleanup: no keys left under ${runId}:*`);
}

function summarize(all: readonly Figures[], idlePerS: number, timedMs: number): { lines: string[]; json: Record<string, unknown> } {
  const byName = new Map(all.map((f) => [f.system.name, f]));
  const isOk = (f: Figures | undefined): boolean => !!f && f.status === 'ok' && f.rates.length > 0;
  const ok = (f: Figures | undefined): f is Figures => isOk(f);
  const perS = (f: Figures | undefined): number | undefined => (ok(f) ? median(f.rates) : undefined);
  const cmdsPerTask = (f: Figures | undefined): number | undefined => (ok(f) && f.cmdTasks ? f.cmds / f.cmdTasks : undefined);
  const lat = (f: Figures | undefined, p: number): number | undefined => {
    if (!ok(f) || !f.latencies.length) return undefined;
    return percentile([...f.latencies].sort((a, b) => a - b), p);
  };
  const bull = perS(byName.get('bullmq'));

  const requestsPerTask = (f: Figures | undefined): number | undefined => (ok(f) && f.cmdTasks ? f.requests / f.cmdTasks : undefined);
  const header = ['system', `c=${CONCURRENCY} tasks/s`, '(min–max)', 'vs BullMQ', 'c=1 tasks/s', 'p50 ms', 'p99 ms', 'cmds/task', 'requests/task'];
  const rows: string[][] = [];
  const lines: string[] = [''];
  for (const f of all) {
    if (!isOk(f)) {
      rows.push([f.system.name, f.status === 'unavailable' ? 'not available' : 'FAILED', '', '', '', '', '', '', '']);
      continue;
    }
    const mid = median(f.rates);
    rows.push([
      f.system.name, int(mid), `${int(Math.min(...f.rates))}–${int(Math.max(...f.rates))}`,
      bull ? `${(mid / bull).toFixed(2)}×` : '—', int(f.c1PerS),
      fixed(lat(f, 50), 3), fixed(lat(f, 99), 3), fixed(cmdsPerTask(f), 2), fixed(requestsPerTask(f), 3),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmtRow = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(fmtRow(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmtRow), '');
  for (const f of all) lines.push(`  ${f.system.name.padEnd(7)} ${f.status === 'ok' ? f.system.description : f.note?.split('\n')[0] ?? f.status}`);
  lines.push('');
  for (const f of all.filter(ok)) {
    const top = [...f.topCommands].sort((a, b) => b[1] - a[1]).slice(0, 8)
      .map(([cmd, n]) => `${cmd} ${(n / f.cmdTasks).toFixed(2)}`).join(', ');
    lines.push(`  ${f.system.name.padEnd(7)} commands per task: ${top}`);
  }
  const tasks = all.reduce((s, f) => s + f.cmdTasks, 0);
  const noise = tasks ? (idlePerS * timedMs) / 1000 / tasks : 0;
  lines.push('  cmds/task: every command Redis ran (INFO commandstats), commands inside Lua scripts included.');
  lines.push('  requests/task: commands this process sent (round trips at most; a pipeline or a script counts per command).');
  lines.push(`  idle Redis: ${idlePerS.toFixed(1)} commands/s with every system idle ` +
    `(≈${noise.toFixed(3)} commands per task of noise in the figures above)`);
  if (noise > 0.05) lines.push('  WARNING: Redis is busy with other clients; the commands per task above are inflated.');
  lines.push('');

  const weft = byName.get('weft');
  const bullmq = byName.get('bullmq');
  const raw = byName.get('raw');
  const weftPerS = perS(weft);
  const json: Record<string, unknown> = {
    weft_per_s: round(weftPerS, 0),
    bullmq_per_s: round(bull, 0),
    ratio: weftPerS !== undefined && bull ? round(weftPerS / bull, 3) : null,
    weft_p50_ms: round(lat(weft, 50), 3),
    bullmq_p50_ms: round(lat(bullmq, 50), 3),
    redis_cmds_per_task: round(cmdsPerTask(weft), 2),
    weft_requests_per_task: round(requestsPerTask(weft), 3),
    bullmq_requests_per_task: round(requestsPerTask(bullmq), 3),
    weft_p99_ms: round(lat(weft, 99), 3),
    bullmq_p99_ms: round(lat(bullmq, 99), 3),
    bullmq_cmds_per_task: round(cmdsPerTask(bullmq), 2),
    weft_c1_per_s: round(ok(weft) ? weft.c1PerS : undefined, 0),
    bullmq_c1_per_s: round(ok(bullmq) ? bullmq.c1PerS : undefined, 0),
    raw_per_s: round(perS(raw), 0),
    raw_p50_ms: round(lat(raw, 50), 3),
    raw_p99_ms: round(lat(raw, 99), 3),
    raw_cmds_per_task: round(cmdsPerTask(raw), 2),
    raw_c1_per_s: round(ok(raw) ? raw.c1PerS : undefined, 0),
    n: N, rounds: ROUNDS, concurrency: CONCURRENCY,
  };
  return { lines, json };
}
