import Redis from 'ioredis';
import { expect } from 'chai';
import { handSchema } from '../../core/registry/hand-schemas';
import { RedisSchemaStore, DEFAULT_PREFIX } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';
import { startPrivateRedis } from '../../helpers/redis-server';

const SUBJECT = 'test.store.Foo';
const a = handSchema(SUBJECT, [{ name: 'id', number: 1, type: 'string' }]);
const b = handSchema(SUBJECT, [{ name: 'id', number: 1, type: 'string' }, { name: 'n', number: 2, type: 'int64' }]);

describe('RedisSchemaStore', () => {
  let redis: Redis;
  let prefix: string;
  let store: RedisSchemaStore;

  before(async () => { redis = await connectTestRedis(); });
  after(async () => { await redis.quit(); });
  beforeEach(() => {
    prefix = uniquePrefix('schema-store');
    store = new RedisSchemaStore({ redis, prefix });
  });
  afterEach(async () => {
    await store.close();
    await deletePrefix(redis, prefix);
  });

  describe('constructor', () => {
    it('should default the prefix to weft', () => {
      const s = new RedisSchemaStore({ redis });
      expect(s.prefix).to.equal(DEFAULT_PREFIX).and.equal('weft');
      expect(s.subjectKey('shop.Order')).to.equal('weft:subject:{shop.Order}');
    });
  });

  describe('close', () => {
    it('should leave a client it was given open', async () => {
      await store.init();
      await store.close();
      expect(redis.status).to.equal('ready');
      expect(await redis.ping()).to.equal('PONG');
    });

    it('should close a client it created from a URL', async () => {
      const owned = new RedisSchemaStore({ redis: REDIS_URL, prefix });
      await owned.init();
      expect(await owned.getSchema(a.id)).to.equal(undefined);
      await owned.close();
      expect(owned.client.status).to.equal('end');
    });

    it('should close a client it never connected', async () => {
      const owned = new RedisSchemaStore({ redis: { host: '127.0.0.1', port: 6379 }, prefix });
      await owned.close();
      expect(owned.client.status).to.equal('end');
    });
  });

  describe('putSchema', () => {
    it('should write the bytes into the <prefix>:schemas hash under the schema id', async () => {
      expect(await store.putSchema(a.id, a.bytes)).to.equal(true);
      expect(await redis.type(`${prefix}:schemas`)).to.equal('hash');
      const raw = await redis.hgetBuffer(`${prefix}:schemas`, a.id);
      expect(raw!.equals(Buffer.from(a.bytes))).to.equal(true);
    });

    it('should keep the first writer\'s bytes', async () => {
      expect(await store.putSchema(a.id, a.bytes)).to.equal(true);
      expect(await store.putSchema(a.id, b.bytes)).to.equal(false);
      expect(Buffer.from((await store.getSchema(a.id))!).equals(Buffer.from(a.bytes))).to.equal(true);
    });
  });

  describe('getSchema', () => {
    it('should return the exact stored bytes, or undefined', async () => {
      const binary = Uint8Array.from([0, 255, 128, 10, 13, 0xc3, 0x28]);
      await store.putSchema('00000000000000000000000000000000', binary);
      const got = await store.getSchema('00000000000000000000000000000000');
      expect(Buffer.isBuffer(got)).to.equal(true);
      expect([...got!]).to.deep.equal([...binary]);
      expect(await store.getSchema(b.id)).to.equal(undefined);
    });
  });

  describe('getSchemas', () => {
    it('should return bytes in the order asked, undefined for missing ids', async () => {
      await store.putSchema(a.id, a.bytes);
      const [x, y, z] = await store.getSchemas([b.id, a.id, b.id]);
      expect(x).to.equal(undefined);
      expect(Buffer.from(y!).equals(Buffer.from(a.bytes))).to.equal(true);
      expect(z).to.equal(undefined);
      expect(await store.getSchemas([])).to.deep.equal([]);
    });
  });

  describe('addVersion', () => {
    it('should append versions with a compare-and-set on the latest version', async () => {
      expect(await store.addVersion(SUBJECT, a.id, 0)).to.deep.equal({ status: 'added', version: 1 });
      expect(await store.addVersion(SUBJECT, b.id, 0)).to.deep.equal({ status: 'conflict', latestVersion: 1 });
      expect(await store.addVersion(SUBJECT, b.id, 1)).to.deep.equal({ status: 'added', version: 2 });
      expect(await store.addVersion(SUBJECT, a.id, 2)).to.deep.equal({ status: 'exists', version: 1 });
      expect(await store.addVersion(SUBJECT, a.id, 0)).to.deep.equal({ status: 'exists', version: 1 });
    });

    it('should keep the history in one hash-tagged HASH per subject', async () => {
      await store.addVersion(SUBJECT, a.id, 0);
      await store.addVersion(SUBJECT, b.id, 1);
      await store.setMode(SUBJECT, 'FULL');
      const key = `${prefix}:subject:{${SUBJECT}}`;
      expect(await redis.type(key)).to.equal('hash');
      expect(await redis.hgetall(key)).to.deep.equal({
        latest: '2', 'v:1': a.id, 'v:2': b.id, [`id:${a.id}`]: '1', [`id:${b.id}`]: '2', mode: 'FULL',
      });
    });

    it('should let exactly one of many concurrent writers win a version', async () => {
      const ids = Array.from({ length: 40 }, (_, i) => handSchema(SUBJECT, [{ name: `f${i}`, number: i + 1, type: 'bool' }]).id);
      const results = await Promise.all(ids.map((id) => store.addVersion(SUBJECT, id, 0)));
      expect(results.filter((r) => r.status === 'added')).to.have.length(1);
      expect(results.filter((r) => r.status === 'conflict')).to.have.length(39);
      expect(await store.listVersions(SUBJECT)).to.have.length(1);
    });

    it('should load its script again after SCRIPT FLUSH', async () => {
      // SCRIPT FLUSH empties the script cache of the whole server: use a private one, not the shared Redis.
      const server = await startPrivateRedis();
      const own = new RedisSchemaStore({ redis: server.url, prefix });
      try {
        expect(await own.addVersion(SUBJECT, a.id, 0)).to.deep.equal({ status: 'added', version: 1 });
        const admin = new Redis(server.url);
        await admin.script('FLUSH');
        await admin.quit();
        expect(await own.addVersion(SUBJECT, b.id, 1)).to.deep.equal({ status: 'added', version: 2 });
      } finally {
        await own.close();
        await server.stop();
      }
    });
  });

  describe('listVersions', () => {
    it('should list versions in ascending numeric order', async () => {
      const ids = Array.from({ length: 12 }, (_, i) => handSchema(SUBJECT, [{ name: `f${i}`, number: i + 1, type: 'bool' }]).id);
      for (let i = 0; i < ids.length; i++) await store.addVersion(SUBJECT, ids[i], i);
      expect(await store.listVersions(SUBJECT)).to.deep.equal(ids.map((id, i) => ({ version: i + 1, id })));
      expect(await store.listVersions('test.store.Unknown')).to.deep.equal([]);
    });
  });

  describe('getMode', () => {
    it('should return undefined when no mode is set', async () => {
      expect(await store.getMode(SUBJECT)).to.equal(undefined);
    });
  });

  describe('setMode', () => {
    it('should store the mode in the subject hash', async () => {
      await store.setMode(SUBJECT, 'NONE');
      expect(await store.getMode(SUBJECT)).to.equal('NONE');
      expect(await redis.hget(`${prefix}:subject:{${SUBJECT}}`, 'mode')).to.equal('NONE');
    });
  });
});
