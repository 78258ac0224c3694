import { eventLogConformance } from '../../../core/testing';
import { RedisEventLog } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';

// The shared event-log conformance suite against Redis on REDIS_URL, under a key prefix of its own.
const prefix = uniquePrefix('event-log-conformance');
eventLogConformance('RedisEventLog (conformance)', async () => {
  const log = new RedisEventLog({ redis: REDIS_URL, prefix });
  await log.init();
  const admin = await connectTestRedis();
  return {
    log,
    length: (stream) => admin.xlen(log.key(stream)),
    async cleanup() {
      await log.close();
      try {
        await deletePrefix(admin, prefix);
      } finally {
        admin.disconnect();
      }
    },
  };
}, { retentionSlack: 100 });
