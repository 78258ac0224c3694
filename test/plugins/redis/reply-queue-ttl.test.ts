/**
 * A client's reply queue on Redis gets a TTL (REPLY_QUEUE_TTL_MS) from its first read, so a client
 * that dies leaves nothing behind for long; later reads do not rewrite it each time.
 */
import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import { REPLY_QUEUE_TTL_MS, type Client } from '../../../core/runtime/client';
import { redisPlugin } from '../../../plugins/redis';
import { streamKey } from '../../../plugins/redis/streams-keys';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';
import { DoubleTask, NumberIn } from '../../core/runtime/fixtures/tasks';

describe('Reply queue TTL (Redis)', function () {
  this.timeout(20_000);
  const prefix = uniquePrefix('replyttl');

  after(async () => {
    const c = await connectTestRedis();
    await deletePrefix(c, prefix);
    c.disconnect();
  });

  it('gives the reply queue a TTL of about 24 h once results are read, and keeps it', async () => {
    const redis = await connectTestRedis();
    const app = await Weft.create({ plugins: [redisPlugin({ url: REDIS_URL, prefix })], config: { logLevel: 'silent' } });
    try {
      await app.worker({ tasks: [DoubleTask], concurrency: 4 });
      const key = streamKey(prefix, (app as unknown as { client: Client }).client.replyQueue);
      for (let i = 0; i < 3; i++) {
        const h = await app.submit(DoubleTask, Object.assign(new NumberIn(), { value: BigInt(i), label: 'x', sleepMs: 0 }));
        await h.result();
        const ttl = await redis.pttl(key);
        expect(ttl, `TTL of ${key} after result ${i}`).to.be.within(REPLY_QUEUE_TTL_MS - 60_000, REPLY_QUEUE_TTL_MS);
      }
    } finally {
      await app.close();
      redis.disconnect();
    }
  });
});
