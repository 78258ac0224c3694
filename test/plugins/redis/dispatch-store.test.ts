import Redis from 'ioredis';
import { expect } from 'chai';
import { DispatchState } from '../../../core/dispatch';
import { dispatchStoreConformance } from '../../../core/testing';
import { RedisDispatchStore, DEFAULT_PREFIX, escapeKeyPart } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';
import { startPrivateRedis } from '../../helpers/redis-server';

// The shared conformance suite against REDIS_URL: every test gets a key prefix of its own, and
// its cleanup deletes every key under that prefix.
dispatchStoreConformance('RedisDispatchStore (conformance)', async () => {
  const prefix = uniquePrefix('dispatch-conformance');
  const admin = await connectTestRedis();
  const store = new RedisDispatchStore({ redis: admin, prefix });
  await store.init();
  return {
    store,
    async cleanup() {
      await store.close();
      try {
        await deletePrefix(admin, prefix);
      } finally {
        await admin.quit();
      }
    },
  };
});

const key = { executionId: 'exec-1', stepId: 'extract', idempotencyKey: '0123456789abcdef0123456789abcdef' };

describe('RedisDispatchStore', () => {
  let redis: Redis;
  let prefix: string;
  let store: RedisDispatchStore;

  before(async () => { redis = await connectTestRedis(); });
  after(async () => { await redis.quit(); });
  beforeEach(() => {
    prefix = uniquePrefix('dispatch-store');
    store = new RedisDispatchStore({ redis, prefix });
  });
  afterEach(async () => {
    await store.close();
    await deletePrefix(redis, prefix);
  });

  describe('constructor', () => {
    it('should default the prefix to weft and hash-tag records on the execution id', () => {
      const s = new RedisDispatchStore({ redis });
      expect(s.prefix).to.equal(DEFAULT_PREFIX).and.equal('weft');
      expect(s.recordKey(key)).to.equal('weft:{exec-1}:dispatch:extract:0123456789abcdef0123456789abcdef');
    });

    it('should refuse a prefix with braces', () => {
      expect(() => new RedisDispatchStore({ redis, prefix: 'a{b}' })).to.throw(TypeError);
    });
  });

  describe('scan', () => {
    it('should list records through a client with an ioredis keyPrefix', async () => {
      const prefixed = new Redis(REDIS_URL, { keyPrefix: `${prefix}:kp:` });
      try {
        const viaPrefix = new RedisDispatchStore({ redis: prefixed, prefix: 'inner' });
        await viaPrefix.create({ ...key, correlationId: 'c', envelope: { task: 't' }, nowMs: 1000 });
        const page = await viaPrefix.scan({ olderThanMs: 2000 });
        expect(page.records.map((r) => r.idempotencyKey)).to.deep.equal([key.idempotencyKey]);
      } finally {
        prefixed.disconnect();
      }
    });
  });

  describe('recordKey', () => {
    it('should escape separators and braces so that keys stay unambiguous', () => {
      expect(escapeKeyPart('a:b{c}%d')).to.equal('a%3Ab%7Bc%7D%25d');
      expect(store.recordKey({ executionId: 'e}x', stepId: 's:1', idempotencyKey: 'k' }))
        .to.equal(`${prefix}:{e%7Dx}:dispatch:s%3A1:k`);
    });
  });

  describe('close', () => {
    it('should leave a client it was given open', async () => {
      await store.init();
      await store.close();
      expect(await redis.ping()).to.equal('PONG');
    });

    it('should close a client it created from a URL', async () => {
      const owned = new RedisDispatchStore({ redis: REDIS_URL, prefix });
      await owned.init();
      expect(await owned.get(key)).to.equal(undefined);
      await owned.close();
      expect(owned.client.status).to.equal('end');
    });
  });

  describe('layout', () => {
    it('should keep one hash per record and index only non-terminal records', async () => {
      await store.create({ ...key, correlationId: 'c', envelope: { task: 't', payload: Buffer.from([1]) }, nowMs: 1_000 });
      const rk = store.recordKey(key);
      const index = `${prefix}:dispatch:open`;
      expect(await redis.hget(rk, 'state')).to.equal('PENDING');
      expect(await redis.hget(rk, 'e:s:task')).to.equal('t');
      expect(await redis.zscore(index, rk)).to.equal('1000');
      await store.transition(key, { from: DispatchState.PENDING, to: DispatchState.SENT, nowMs: 2_000 });
      expect(await redis.zscore(index, rk)).to.equal('2000');
      expect(JSON.parse((await redis.hget(rk, 'h:1'))!)).to.deep.equal({ atMs: 2_000, from: 'PENDING', to: 'SENT', attempt: 0 });
      await store.transition(key, { from: DispatchState.SENT, to: DispatchState.ACKED, nowMs: 3_000 });
      expect(await redis.zscore(index, rk)).to.equal(null);
      expect(await redis.hget(rk, 'state')).to.equal('ACKED');
    });
  });

  describe('transition', () => {
    it('should fall back to EVAL when the script cache was flushed', async () => {
      // A private server: flushing the shared server's script cache would disturb other suites.
      const server = await startPrivateRedis();
      const own = new RedisDispatchStore({ redis: server.url, prefix });
      try {
        await own.init();
        await own.create({ ...key, correlationId: 'c', envelope: {}, nowMs: 1_000 });
        await own.client.script('FLUSH');
        const r = await own.transition(key, { from: DispatchState.PENDING, to: DispatchState.SENT, nowMs: 2_000 });
        expect(r.ok).to.equal(true);
        expect((await own.get(key))?.state).to.equal('SENT');
      } finally {
        await own.close();
        await server.stop();
      }
    });

    it('should let exactly one of two separate clients racing the same CAS win', async () => {
      const other = new RedisDispatchStore({ redis: REDIS_URL, prefix });
      await other.init();
      try {
        for (let round = 0; round < 25; round++) {
          const k = { ...key, executionId: `exec-race-${round}` };
          await store.create({ ...k, correlationId: 'c', envelope: {}, nowMs: 1_000 });
          await store.transition(k, { from: DispatchState.PENDING, to: DispatchState.SENT, nowMs: 1_001 });
          const [a, b] = await Promise.all([
            store.transition(k, { from: DispatchState.SENT, to: DispatchState.ACKED, nowMs: 2_000 }),
            other.transition(k, { from: DispatchState.SENT, to: DispatchState.FAILED_RETRYABLE, nowMs: 2_000 }),
          ]);
          expect([a.ok, b.ok].filter(Boolean), `round ${round}`).to.have.length(1);
          const stored = (await store.get(k))!;
          expect(stored.transitionCount).to.equal(2);
          expect(stored.state).to.equal(a.ok ? 'ACKED' : 'FAILED_RETRYABLE');
        }
      } finally {
        await other.close();
      }
    });
  });
});
