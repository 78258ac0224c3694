import { StoreLedger } from '../../../core/dispatch/store-ledger';
import { Weft } from '../../../core/runtime/weft';
import { dispatchParity } from '../../../core/testing';
import { memoryPlugin, MemoryDispatchStore, MemorySchemaStore, MemoryTransport } from '../../../plugins/memory';
import { RedisDispatchLedger, redisPlugin } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';

const quiet = { logLevel: 'silent' } as const;

dispatchParity('dispatch parity (memory, one app)', async () => {
  const app = await Weft.create({ plugins: [memoryPlugin()], config: quiet });
  return { producer: app, worker: app, cleanup: () => app.close() };
});

dispatchParity('dispatch parity (memory, producer and worker apps sharing one transport)', async () => {
  const transport = new MemoryTransport();
  const schemaStore = new MemorySchemaStore();
  const dispatchStore = new MemoryDispatchStore();
  const shared = (): ReturnType<typeof memoryPlugin> => memoryPlugin({ transport, schemaStore, dispatchStore });
  const producer = await Weft.create({ plugins: [shared()], config: quiet });
  const worker = await Weft.create({ plugins: [shared()], config: quiet });
  return {
    producer, worker,
    cleanup: async () => {
      await worker.close();
      await producer.close();
      await transport.close();
      await schemaStore.close();
      await dispatchStore.close();
    },
  };
});

for (const ledger of ['atomic RedisDispatchLedger', 'generic StoreLedger'] as const) {
  dispatchParity(`dispatch parity (redis, ${ledger})`, async () => {
    const probe = await connectTestRedis(); // fails with one line saying what to install when Redis is missing
    const prefix = uniquePrefix('parity');
    const create = (): Promise<Weft> => Weft.create({
      plugins: [redisPlugin({ url: REDIS_URL, prefix })], config: quiet,
      ...(ledger === 'generic StoreLedger' ? { dispatchLedger: ({ store, transport }) => new StoreLedger(store, transport) } : {}),
    });
    const producer = await create();
    const worker = await create();
    const want = ledger === 'generic StoreLedger' ? StoreLedger : RedisDispatchLedger;
    for (const app of [producer, worker]) {
      if (!(app.ledger instanceof want)) throw new Error(`the app runs ${app.ledger.name}, not the ${ledger}`);
    }
    return {
      producer, worker,
      cleanup: async () => {
        try {
          await worker.close();
          await producer.close();
        } finally {
          await deletePrefix(probe, prefix);
          probe.disconnect();
        }
      },
    };
  });
}
