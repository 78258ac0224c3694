/**
 * Codec benchmark: one encode+decode round trip of a realistic nested order, three ways, in one
 * process, with interleaved rounds so that machine noise (other processes, CPU frequency, GC)
 * falls on every system alike.
 *
 *   weft      schemaOf(Order).codec: decode(encode(order)), producing class instances (Order,
 *             Customer, LineItem…), bigint, Date and Map values. Validation is on, as by default;
 *             the fixture has no class-validator constraints, so the validator has nothing to run.
 *   json      JSON.parse(JSON.stringify(twin)) where twin is the same order as plain JSON data
 *             (int64 as decimal strings, Dates as ISO strings, the Map as an object). The result
 *             is plain objects: JSON does no mapping back to classes, bigint or Date.
 *   protobufjs for reference: a reflection Type built with Root.fromDescriptor from Weft's own
 *             descriptor bytes (plus google/protobuf/timestamp.proto); decode(encode(msg).finish())
 *             of the same data, producing protobufjs message objects (Long for int64).
 *
 * Environment knobs: BENCH_ROUNDS (default 15), BENCH_BATCH_MS (default 120), BENCH_WARMUP_MS
 * (default 1500 per system). The last line printed is a JSON summary.
 */
import * as protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor';
import { decodeFileDescriptor, timestampFileDescriptor } from '../core/schema/descriptor';
import { schemaOf } from '../core/schema/schema';
import { Order, sampleOrder, toJsonTwin } from './fixtures/order';

interface System {
  readonly name: string;
  readonly bytes: number;
  readonly roundTrip: () => unknown;
  batch: number;
  readonly samples: number[];
}

const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

let sink = 0;
/** Runs `n` round trips and returns the elapsed seconds. */
function timeBatch(s: System, n: number): number {
  const fn = s.roundTrip;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const out = fn() as { id?: unknown } | null;
    if (out === null) sink++;
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Runs the system for about `ms` milliseconds, growing the batch until it lasts about `targetMs`. */
function warmUp(s: System, ms: number, targetMs: number): void {
  const until = Date.now() + ms;
  let n = 16;
  while (Date.now() < until) {
    const secs = timeBatch(s, n);
    const perOp = secs / n;
    n = Math.max(16, Math.round(targetMs / 1000 / perOp));
  }
  s.batch = n;
}

const median = (xs: number[]): number => {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function buildSystems(): System[] {
  const schema = schemaOf(Order);
  const codec = schema.codec;
  const order = sampleOrder();
  const twin = toJsonTwin(order);

  // --- correctness, once, before timing ---
  const weftBytes = codec.encode(order);
  const back = codec.decode(weftBytes);
  if (!(back instanceof Order) || JSON.stringify(toJsonTwin(back)) !== JSON.stringify(twin)) {
    throw new Error('weft round trip does not reproduce the order');
  }
  const jsonText = JSON.stringify(twin);
  if (JSON.stringify(JSON.parse(jsonText)) !== jsonText) throw new Error('JSON round trip does not reproduce the order');

  // --- protobufjs reflection, built from Weft's own descriptor ---
  const root = (protobuf.Root as unknown as { fromDescriptor(set: unknown): protobuf.Root }).fromDescriptor({
    file: [timestampFileDescriptor(), decodeFileDescriptor(schema.bytes)],
  });
  const T = root.lookupType(schema.fullName);
  const pbMsg = T.decode(weftBytes); // the same data, in protobufjs' own representation
  const pbBytes = T.encode(pbMsg).finish();
  if (pbBytes.length !== weftBytes.length) {
    throw new Error(`protobufjs re-encodes the order to ${pbBytes.length} bytes, Weft to ${weftBytes.length}`);
  }

  const sys = (name: string, bytes: number, roundTrip: () => unknown): System => ({ name, bytes, roundTrip, batch: 0, samples: [] });
  return [
    sys('weft', weftBytes.length, () => codec.decode(codec.encode(order))),
    sys('json', Buffer.byteLength(jsonText, 'utf8'), () => JSON.parse(JSON.stringify(twin))),
    sys('protobufjs', pbBytes.length, () => T.decode(T.encode(pbMsg).finish())),
  ];
}

export function run(): void {
  const rounds = envInt('BENCH_ROUNDS', 15);
  const batchMs = envInt('BENCH_BATCH_MS', 120);
  const warmupMs = envInt('BENCH_WARMUP_MS', 1500);
  const systems = buildSystems();
  console.log(`codec: encode+decode round trip of bench.Order (23 fields, nested, repeated, map-of-lists, int64, Date)`);
  console.log(`node ${process.version}, ${rounds} interleaved rounds of ~${batchMs} ms per system after ${warmupMs} ms warm-up each`);

  for (const s of systems) warmUp(s, warmupMs, batchMs);
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so that no system always runs first (or right after another's GC).
    for (let j = 0; j < systems.length; j++) {
      const s = systems[(r + j) % systems.length];
      s.samples.push(s.batch / timeBatch(s, s.batch));
    }
  }

  const json = systems.find((s) => s.name === 'json')!;
  const weft = systems.find((s) => s.name === 'weft')!;
  const pbjs = systems.find((s) => s.name === 'protobufjs')!;
  const jsonOps = median(json.samples);
  console.log('');
  console.log(`${'system'.padEnd(12)}${'median ops/s'.padStart(14)}${'min'.padStart(10)}${'max'.padStart(10)}` +
    `${'vs json'.padStart(9)}${'bytes'.padStart(8)}${'vs json'.padStart(9)}`);
  for (const s of systems) {
    const m = median(s.samples);
    console.log(`${s.name.padEnd(12)}${fmt(m).padStart(14)}${fmt(Math.min(...s.samples)).padStart(10)}` +
      `${fmt(Math.max(...s.samples)).padStart(10)}${(m / jsonOps).toFixed(2).padStart(8)}x${String(s.bytes).padStart(8)}` +
      `${((100 * s.bytes) / json.bytes).toFixed(1).padStart(8)}%`);
  }
  const weftOps = median(weft.samples);
  const pbOps = median(pbjs.samples);
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log('');
  console.log(`target ops/s >= 1.00x json: ${verdict(weftOps >= jsonOps)} (${(weftOps / jsonOps).toFixed(2)}x); ` +
    `target bytes <= 60% of json: ${verdict(weft.bytes <= 0.6 * json.bytes)} (${((100 * weft.bytes) / json.bytes).toFixed(1)}%)`);
  if (sink === -1) console.log(sink);
  console.log(JSON.stringify({
    weft_ops_s: Math.round(weftOps), json_ops_s: Math.round(jsonOps), ratio: r3(weftOps / jsonOps),
    weft_bytes: weft.bytes, json_bytes: json.bytes, bytes_ratio: r3(weft.bytes / json.bytes),
    protobufjs_ops_s: Math.round(pbOps), protobufjs_ratio: r3(pbOps / jsonOps), protobufjs_bytes: pbjs.bytes,
  }));
}
