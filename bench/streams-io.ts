/**
 * `npm run bench -- streams-io`: the client-side CPU cost of moving wire-contract task entries
 * (15 fields) through Redis Streams, plain ioredis against the Redis transport's scripted paths.
 *
 *   publish   a pipeline of 1,000 `XADD`s (plain)  vs  `RedisStreamsTransport.publish` of 1,000
 *             (one `PUBLISH` script call, hand-encoded)
 *   read      `XREADGROUP COUNT 50` parsed into field records (plain)  vs  `consume` with
 *             `blockMs: 0` (the packed `READ_PACKED` script)
 *
 * Each is measured as process CPU time (user + system) per message, which is what limits a
 * one-process producer or worker, in interleaved rounds; the table shows the median round. Keys
 * live under `bench:io:<pid>` and are deleted at the end.
 */
import Redis from 'ioredis';
import { RedisStreamsTransport } from '../plugins/redis/streams-transport';
import { streamKey } from '../plugins/redis/streams-keys';
import type { Fields } from '../core/runtime/transport';
import { BENCH_REDIS_URL } from './systems/system';

const BATCH = 1_000;
const BATCHES = Number(process.env.BENCH_IO_BATCHES ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** A task entry as the client writes it (the wire contract's fields). */
function entry(i: number): Fields {
  return {
    schema_id: '3f1c9a7be05d2c44', type: 'bench.NoopInput', payload: Buffer.from([8, i & 0x7f]),
    task: 'bench.noop@1', resolver_id: 'default', strategy: 'registry',
    correlation_id: `c${i}`, execution_id: `c${i}`, idempotency_key: `c${i}`, retry_attempt: '0',
    deadline_ms: '', dispatch_ts_ms: String(Date.now()), parent_item_id: '',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', reply_to: 'replies.0123456789abcdef',
  };
}

const cpuUs = (): number => { const c = process.cpuUsage(); return c.user + c.system; };

/** Redis's own CPU time so far (user + system), µs, from `INFO cpu`. */
async function redisCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  let s = 0;
  for (const m of info.matchAll(/^used_cpu_(?:sys|user):([\d.]+)/gm)) s += Number(m[1]);
  return s * 1e6;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<void> {
  const prefix = `bench:io:${process.pid}`;
  const redis = new Redis(BENCH_REDIS_URL, { lazyConnect: true });
  await redis.connect();
  const transport = new RedisStreamsTransport({ redis, prefix });
  const messages = Array.from({ length: BATCH }, (_, i) => entry(i));
  const plainKey = streamKey(prefix, 'plain');
  const tKey = transport.keys('scripted').stream;
  const n = BATCH * BATCHES;
  const samples: Record<string, number[]> = { 'publish plain': [], 'publish scripted': [], 'read plain': [], 'read scripted': [] };
  const server: Record<string, number[]> = { 'publish plain': [], 'publish scripted': [], 'read plain': [], 'read scripted': [] };

  const publishPlain = async (): Promise<void> => {
    for (let b = 0; b < BATCHES; b++) {
      const p = redis.pipeline();
      for (const m of messages) {
        const args: (string | Buffer | number)[] = [plainKey, 'MAXLEN', '~', 1_000_000, '*'];
        for (const k of Object.keys(m)) args.push(k, m[k]!);
        p.call('XADD', ...args);
      }
      await p.exec();
    }
  };
  const publishScripted = async (): Promise<void> => {
    for (let b = 0; b < BATCHES; b++) await transport.publish('scripted', messages);
  };
  const readPlain = async (): Promise<void> => {
    for (let got = 0; got < n;) {
      const reply = await redis.callBuffer('XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', 50, 'STREAMS', plainKey, '>') as unknown;
      const entries = (Array.isArray(reply) ? (Buffer.isBuffer(reply[0]) ? reply[1] : reply[0][1]) : [...(reply as Map<unknown, unknown[]>).values()][0]) as [Buffer, Buffer[]][];
      for (const [id, flat] of entries) {
        const f: Record<string, string | Buffer> = { id: id.toString() };
        for (let i = 0; i < flat.length; i += 2) f[flat[i]!.toString()] = flat[i + 1]!;
        got++;
      }
    }
  };
  const readScripted = async (): Promise<void> => {
    for (let got = 0; got < n;) got += (await transport.consume('scripted', { group: 'g', consumer: 'c', count: 50, blockMs: 0 })).length;
  };

  try {
    await redis.xgroup('CREATE', plainKey, 'g', '0', 'MKSTREAM');
    await publishScripted(); // warm-up: loads the scripts, creates the group on the first read
    await readScripted();
    const steps: [string, () => Promise<void>][] = [
      ['publish plain', publishPlain], ['publish scripted', publishScripted], ['read plain', readPlain], ['read scripted', readScripted],
    ];
    for (let r = 0; r < ROUNDS; r++) {
      // Publishing comes first in every round (the reads consume what it wrote); the two variants swap places.
      const order = r % 2 ? [steps[1]!, steps[0]!, steps[3]!, steps[2]!] : steps;
      for (const [name, fn] of order) {
        const s0 = await redisCpuUs(redis);
        const c0 = cpuUs();
        await fn();
        samples[name]!.push((cpuUs() - c0) / n);
        server[name]!.push((await redisCpuUs(redis) - s0) / n);
      }
    }
    console.log(`streams-io: CPU per message, ${n} wire-contract entries (15 fields) per step, median of ${ROUNDS} rounds`);
    console.log(`${'step'.padEnd(18)} ${'client'.padStart(10)}  ${'(min–max)'.padEnd(13)} ${'Redis'.padStart(9)}`);
    const row = (name: string): string => `${name.padEnd(18)} ${median(samples[name]!).toFixed(2).padStart(7)} µs  (${Math.min(...samples[name]!).toFixed(2)}–${Math.max(...samples[name]!).toFixed(2)})`.padEnd(45) +
      ` ${median(server[name]!).toFixed(2).padStart(6)} µs`;
    for (const name of Object.keys(samples)) console.log(row(name));
    const pub = median(samples['publish plain']!) / median(samples['publish scripted']!);
    const read = median(samples['read plain']!) / median(samples['read scripted']!);
    console.log(`scripted is ${pub.toFixed(2)}× cheaper to publish and ${read.toFixed(2)}× cheaper to read`);
    console.log(JSON.stringify({
      publish_plain_us: +median(samples['publish plain']!).toFixed(2), publish_scripted_us: +median(samples['publish scripted']!).toFixed(2),
      read_plain_us: +median(samples['read plain']!).toFixed(2), read_scripted_us: +median(samples['read scripted']!).toFixed(2),
      publish_ratio: +pub.toFixed(2), read_ratio: +read.toFixed(2),
      redis_publish_plain_us: +median(server['publish plain']!).toFixed(2), redis_publish_scripted_us: +median(server['publish scripted']!).toFixed(2),
      redis_read_plain_us: +median(server['read plain']!).toFixed(2), redis_read_scripted_us: +median(server['read scripted']!).toFixed(2),
    }));
  } finally {
    await redis.del(plainKey, tKey);
    await transport.close();
    redis.disconnect();
  }
}
