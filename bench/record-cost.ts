/**
 * What the durable dispatch record costs, and what cheaper record layouts would save: the Weft
 * no-op pipeline of the throughput benchmark (`submitMany` → worker → `handle.result()`, Redis
 * Streams, concurrency 50), run with several variants of the Redis ledger's `SEND` and `COMPLETE`
 * scripts, interleaved in one process on one Redis.
 *
 *   npm run bench -- record-cost
 *
 * Variants (all but `full` are measurement probes that drop guarantees; none is used by Weft):
 *   full    the real ledger: a hash per record (13 fields, history entry, index), `ACKED` with
 *           its result and a TTL.
 *   lean    a hash of 6 fields, history left implicit; `ACKED` = 5 fields + TTL; index kept.
 *   string  a short string per record: `SET NX`, then `SET XX GET PX` with the result.
 *   field   one field per record in one shared hash: `HSETNX`, then `HSET` with the result
 *           (no key per record, no TTL).
 *   none    the same scripts and arguments with every record command removed: the transport's
 *           cost alone, i.e. what durability would cost if the record were free.
 *
 * Per variant: the median tasks/s of BENCH_ROUNDS rounds of BENCH_N tasks, and the CPU time per
 * task of this process (Node) and of the Redis server (`INFO cpu`), medians over the rounds.
 * Knobs: BENCH_N (20000), BENCH_ROUNDS (6), BENCH_VARIANTS (full,lean,string,field,none).
 */
import 'reflect-metadata';
import Redis from 'ioredis';
import { NoopInput, NoopOutput, NoopTask } from './systems/weft';
import { connect, deletePrefix } from './systems/redis-util';
import { BENCH_REDIS_URL } from './systems/system';
import { redisPlugin, Weft } from '../plugins';
import type { Transport } from '../core/runtime/transport';
import type { Weft as WeftApp } from '../core/runtime/weft';
import { luaScript, type LuaScript } from '../plugins/redis/lua';
import { COMPLETE, SEND } from '../plugins/redis/ledger-scripts';
import type { RedisStreamsTransport } from '../plugins/redis/streams-transport';

const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
};
const N = envInt('BENCH_N', 20_000);
const ROUNDS = envInt('BENCH_ROUNDS', 6);

/** Replaces `from` by `to` in a script, failing loudly when the script changed and `from` is gone. */
function edit(lua: string, from: string, to: string): string {
  if (!lua.includes(from)) throw new Error(`record-cost: the ledger script no longer contains ${JSON.stringify(from.slice(0, 60))}; update the probe`);
  return lua.replace(from, to);
}
const SEND_CREATE = "if redis.call('HSETNX', rk, 'state', 'SENT') == 0 then";
const SEND_HSET = "redis.call('HSET', rk, unpack(h))";
const SEND_ZADD = "if #zadd > 0 then redis.call('ZADD', index, unpack(zadd)) end";
const COMPLETE_MOVE = `    local state, attempt, count, copy = current(rk, index, now, limit)
    if state == 'SENT' then`;
const SKIP_REST = '\n    if false then local state, attempt, count, copy';

const VARIANTS: Record<string, undefined | { send: string; complete: string }> = {
  full: undefined,
  lean: {
    send: edit(SEND.lua, SEND_HSET,
      "redis.call('HSET', rk, 'attempt', attempt, 'created_at_ms', now, 'queue', queue, 'entry_id', id, 'correlation_id', ARGV[j + iCorr - 1])"),
    complete: edit(COMPLETE.lua, COMPLETE_MOVE, `    local cur = redis.call('HMGET', rk, 'state', 'attempt', 'transition_count')
    if cur[1] == 'SENT' then
      redis.call('HSET', rk, 'state', 'ACKED', 'updated_at_ms', now, 'result_bytes', ARGV[j + 1], 'result_schema_id', ARGV[j + 2], 'result_type', ARGV[j + 3])
      redis.call('PEXPIRE', rk, retention)
      done[#done + 1] = rk
    end` + SKIP_REST),
  },
  string: {
    send: edit(edit(edit(SEND.lua, SEND_CREATE, "if redis.call('EXISTS', rk) == 1 then"),
      SEND_HSET, "redis.call('SET', rk, 'S|' .. attempt .. '|' .. now .. '|' .. queue .. '|' .. id)"), SEND_ZADD, ''),
    complete: edit(COMPLETE.lua, COMPLETE_MOVE,
      "    redis.call('SET', rk, 'A|0|' .. now .. '|' .. ARGV[j + 2] .. '|' .. ARGV[j + 3] .. '|' .. ARGV[j + 1], 'XX', 'GET', 'PX', retention)" + SKIP_REST),
  },
  field: {
    send: edit(edit(edit(SEND.lua, SEND_CREATE, "if redis.call('HSETNX', index .. ':probe', rk, 'S|' .. now .. '|' .. queue) == 0 then"),
      SEND_HSET, ''), SEND_ZADD, ''),
    complete: edit(COMPLETE.lua, COMPLETE_MOVE,
      "    redis.call('HSET', index .. ':probe', rk, 'A|0|' .. now .. '|' .. ARGV[j + 2] .. '|' .. ARGV[j + 3] .. '|' .. ARGV[j + 1])" + SKIP_REST),
  },
  none: {
    send: edit(edit(edit(SEND.lua, SEND_CREATE, 'if false then'), SEND_HSET, ''), SEND_ZADD, ''),
    complete: edit(COMPLETE.lua, 'if ri > 0 then', 'if false then'),
  },
};

/** Makes the app's transport run the variant's scripts in place of `SEND` and `COMPLETE`. */
function probe(transport: Transport, scripts: { send: string; complete: string }): void {
  const t = transport as RedisStreamsTransport;
  const swap = new Map<LuaScript, LuaScript>([[SEND, luaScript(scripts.send)], [COMPLETE, luaScript(scripts.complete)]]);
  const run = t.runScriptCalls.bind(t);
  t.runScriptCalls = (s, calls) => run(swap.get(s) ?? s, calls);
}

async function redisCpuUs(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

const median = (xs: readonly number[]): number => {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};

export async function run(): Promise<void> {
  const names = (process.env.BENCH_VARIANTS ?? Object.keys(VARIANTS).join(',')).split(',').filter(Boolean);
  for (const n of names) if (!(n in VARIANTS)) throw new Error(`BENCH_VARIANTS: unknown variant ${n}; known: ${Object.keys(VARIANTS).join(', ')}`);
  const runId = `bench:rc:${process.pid}`;
  const stats = connect('bench-record-cost-stats');
  const systems: { name: string; app: WeftApp; close: () => Promise<void>; rates: number[]; node: number[]; redis: number[] }[] = [];
  let seq = 0;
  try {
    for (const name of names) {
      const scripts = VARIANTS[name];
      const app = await Weft.create({
        plugins: [redisPlugin({ url: BENCH_REDIS_URL, prefix: `${runId}:${name}` })], config: { logLevel: 'warn' },
        ...(scripts ? { dispatchLedger: ({ transport, provided }) => {
          if (!provided) throw new Error('record-cost: the Redis plugin provided no ledger');
          probe(transport, scripts);
          return provided;
        } } : {}),
      });
      const worker = await app.worker({ tasks: [NoopTask], concurrency: 50 });
      systems.push({ name, app, close: async () => { await worker.close(); await app.close(); }, rates: [], node: [], redis: [] });
    }
    const batch = async (app: WeftApp, n: number): Promise<void> => {
      const results: Promise<void>[] = [];
      for (let i = 0; i < n; i += 1000) {
        const inputs: NoopInput[] = [];
        for (let k = i; k < Math.min(n, i + 1000); k++) inputs.push(Object.assign(new NoopInput(), { n: seq++ }));
        const handles = await app.submitMany(NoopTask, inputs);
        handles.forEach((h, k) => results.push(h.result().then((out: NoopOutput) => {
          if (out.n !== inputs[k].n) throw new Error(`record-cost: task ${inputs[k].n} returned ${out.n}`);
        })));
      }
      await Promise.all(results);
    };
    console.log(`record-cost: ${ROUNDS} interleaved rounds of ${N} no-op tasks per variant, concurrency 50, Redis at ${BENCH_REDIS_URL}`);
    for (const s of systems) await batch(s.app, Math.min(N, 10_000));
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of r % 2 ? [...systems].reverse() : systems) {
        const redis0 = await redisCpuUs(stats);
        const node0 = process.cpuUsage();
        const t0 = performance.now();
        await batch(s.app, N);
        const ms = performance.now() - t0;
        const node = process.cpuUsage(node0);
        s.rates.push(N / (ms / 1000));
        s.node.push((node.user + node.system) / N);
        s.redis.push(((await redisCpuUs(stats)) - redis0) / N);
      }
    }
    const base = systems.find((s) => s.name === 'full');
    console.log('\nvariant  tasks/s  vs full  Node µs/task  Redis µs/task');
    for (const s of systems) {
      const rate = median(s.rates);
      console.log(`${s.name.padEnd(7)} ${Math.round(rate).toLocaleString('en-US').padStart(8)}  ${base ? `${(rate / median(base.rates)).toFixed(2)}×`.padStart(7) : '      —'}` +
        `  ${median(s.node).toFixed(1).padStart(12)}  ${median(s.redis).toFixed(1).padStart(13)}`);
    }
    console.log(JSON.stringify(Object.fromEntries(systems.map((s) => [s.name, {
      per_s: Math.round(median(s.rates)), node_us: Math.round(median(s.node) * 10) / 10, redis_us: Math.round(median(s.redis) * 10) / 10,
    }]))));
  } finally {
    for (const s of systems) await s.close().catch((e: unknown) => console.log(`record-cost: close of ${s.name} failed: ${String(e)}`));
    await deletePrefix(stats, runId).catch(() => undefined);
    await stats.quit().catch(() => stats.disconnect());
  }
}
