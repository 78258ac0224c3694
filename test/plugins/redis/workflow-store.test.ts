import { workflowStoreConformance } from '../../../core/testing';
import { RedisWorkflowStore, workflowKey } from '../../../plugins/redis/workflow-store';
import { connectTestRedis, deletePrefix, uniquePrefix } from '../../helpers/redis';

workflowStoreConformance('RedisWorkflowStore', async () => {
  const redis = await connectTestRedis();
  const prefix = uniquePrefix('wfstore');
  const store = new RedisWorkflowStore({ redis, prefix, retentionMs: 60_000 });
  await store.init();
  return {
    store,
    // The TTL is real: check it is set, then let it run out by shortening it.
    expireTerminal: async (id) => {
      const ttl = await redis.pttl(workflowKey(prefix, id));
      if (ttl <= 0 || ttl > 60_000) throw new Error(`expected a TTL of at most 60 s on a terminal execution, got ${ttl}`);
      await redis.pexpire(workflowKey(prefix, id), 1);
      await new Promise((r) => setTimeout(r, 20));
    },
    cleanup: async () => {
      await store.close();
      await deletePrefix(redis, prefix);
      redis.disconnect();
    },
  };
});
