import { expect } from 'chai';
import type Redis from 'ioredis';
import { RedisEventLog } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';

describe('RedisEventLog', function () {
  this.timeout(10_000);
  let admin: Redis;
  const prefix = uniquePrefix('event-log');
  before(async () => { admin = await connectTestRedis(); });
  after(async () => {
    await deletePrefix(admin, prefix);
    admin.disconnect();
  });

  it('should write <prefix>:events:{<stream>} with MAXLEN ~ and the TTL in one transaction', async () => {
    const log = new RedisEventLog({ redis: REDIS_URL, prefix });
    await log.init();
    try {
      const id = await log.append('events.x1', { kind: 'progress', percent: '5' }, { ttlMs: 60_000, maxLen: 100 });
      const key = `${prefix}:events:{events.x1}`;
      expect(log.key('events.x1')).to.equal(key);
      expect(await admin.xlen(key)).to.equal(1);
      const pttl = await admin.pttl(key);
      expect(pttl).to.be.within(1, 60_000);
      expect(id).to.match(/^\d+-\d+$/);
      await log.append('events.x2', { n: '1' });
      expect(await admin.pttl(`${prefix}:events:{events.x2}`)).to.equal(-1, 'no ttlMs: no expiry');
    } finally {
      await log.close();
    }
  });

  it('should serve other commands on the shared client while a read blocks, and close its connection when the signal fires', async () => {
    const log = new RedisEventLog({ redis: REDIS_URL, prefix });
    await log.init();
    try {
      const clientsBefore = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]);
      const ac = new AbortController();
      const blocked = log.read('s-block', '0', { blockMs: 30_000, signal: ac.signal } as never);
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      await log.append('s-other', { n: '1' }); // the shared client is free
      expect(Date.now() - t0).to.be.lessThan(500);
      ac.abort();
      expect(await blocked).to.deep.equal([]);
      await new Promise((r) => setTimeout(r, 50));
      const clientsAfter = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]);
      expect(clientsAfter).to.be.at.most(clientsBefore, 'the aborted read\'s connection is closed');
    } finally {
      await log.close();
    }
  });

  it('should make a blocked read return [] on close(), and quit the client it created', async () => {
    const log = new RedisEventLog({ redis: REDIS_URL, prefix });
    await log.init();
    const blocked = log.read('s-close', '0', { blockMs: 30_000 });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await log.close();
    expect(await blocked).to.deep.equal([]);
    expect(Date.now() - t0).to.be.lessThan(1000);
    expect(log.client.status).to.equal('end');
  });

  it('should never close a client it was given', async () => {
    const client = await connectTestRedis();
    const log = new RedisEventLog({ redis: client, prefix });
    await log.append('s-given', { n: '1' });
    expect((await log.read('s-given', '0', { blockMs: 100 })).length).to.equal(1);
    await log.close();
    expect(client.status).to.equal('ready');
    client.disconnect();
  });
});
