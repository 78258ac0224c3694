/**
 * The Weft demo that `npm start` runs, embedded (no services needed):
 * define messages, register their schema, round-trip one, and show what the registry guards.
 */
import 'reflect-metadata';
import { SchemaRegistry } from '../core/registry';
import { schemaOf, ValidationError, WeftError } from '../core';
import { MemorySchemaStore } from '../plugins/memory';
import { Weft } from '../plugins';
import { lineItem, Order, Priority } from './messages';
import { PriceOrder } from './tasks';

async function main(): Promise<void> {
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

  // A task end to end: embedded (memory plugins) by default; with REDIS_URL set, the same code
  // runs over Redis Streams, and the worker could be another process on another machine.
  const app = await Weft.create({ config: { logLevel: 'warn' } });
  try {
    await app.worker({ tasks: [PriceOrder], concurrency: 4 });
    const handle = await app.submit(PriceOrder, order);
    const invoice = await handle.result();
    console.log(`task shop.priceOrder on ${app.app.transport.name}: invoice for ${invoice.orderId}, ` +
      `${invoice.lines} lines, ${invoice.totalCents} cents (progress seen: ${JSON.stringify(handle.status().progress)})`);
  } finally {
    await app.close();
  }
}

function jsonSize(order: Order): number {
  return Buffer.byteLength(JSON.stringify(order, (_k, v: unknown) =>
    typeof v === 'bigint' ? v.toString() : v instanceof Map ? Object.fromEntries(v) : v));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
