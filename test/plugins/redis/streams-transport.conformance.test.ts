import { transportConformance } from '../../../core/testing';
import { RedisStreamsTransport } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';

// The shared transport conformance suite against Redis Streams on REDIS_URL. Every fixture has a
// key prefix of its own, and its cleanup deletes every key under that prefix.
transportConformance('RedisStreamsTransport (conformance)', async () => {
  const prefix = uniquePrefix('streams-conformance');
  const transport = new RedisStreamsTransport({ redis: REDIS_URL, prefix });
  await transport.init();
  return {
    transport,
    async cleanup() {
      await transport.close();
      const admin = await connectTestRedis();
      try {
        await deletePrefix(admin, prefix);
      } finally {
        admin.disconnect();
      }
    },
  };
});
