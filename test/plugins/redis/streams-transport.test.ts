import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { expect } from 'chai';
import { TransportError, type Delivery } from '../../../core/runtime/transport';
import {
  DEFAULT_DEAD_LETTER_MAX_LEN,
  DEFAULT_MAX_LEN,
  DeadLetterField,
  RedisStreamsTransport,
  deadLetterKey,
  keySlot,
  streamKey,
} from '../../../plugins/redis';
import { trimThreshold } from '../../../plugins/redis/streams-transport';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';
import { startPrivateRedis } from '../../helpers/redis-server';

/** Counts socket writes of a connected client: one write is one round trip (a pipeline is one write). */
function countWrites(client: Redis): { readonly count: number; restore(): void } {
  const stream = client.stream as unknown as { write: (...a: unknown[]) => boolean };
  const original = stream.write;
  const counter = {
    count: 0,
    restore() { stream.write = original; },
  };
  stream.write = function (this: unknown, ...a: unknown[]) {
    counter.count++;
    return original.apply(this, a);
  };
  return counter;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** Raw XRANGE of a key as a list of field records (strings). */
async function rawEntries(redis: Redis, key: string): Promise<{ id: string; fields: Record<string, string> }[]> {
  const entries = await redis.xrange(key, '-', '+');
  return entries.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { id, fields };
  });
}

describe('RedisStreamsTransport', () => {
  let redis: Redis;
  let prefix: string;
  let t: RedisStreamsTransport;

  before(async () => { redis = await connectTestRedis(); });
  after(async () => { await redis.quit(); });
  beforeEach(async () => {
    prefix = uniquePrefix('streams');
    t = new RedisStreamsTransport({ redis, prefix });
    await t.init();
  });
  afterEach(async () => {
    await t.close();
    await deletePrefix(redis, prefix);
  });

  const take = (q: string, consumer = 'c1', count = 100, group = 'g'): Promise<Delivery[]> =>
    t.consume(q, { group, consumer, count, blockMs: 0 });

  describe('keys', () => {
    it('should name the stream and the dead letters under the default prefix weft with the queue as hash tag', () => {
      const d = new RedisStreamsTransport({ redis });
      expect(d.prefix).to.equal('weft');
      expect(d.keys('orders')).to.deep.equal({ stream: 'weft:{orders}:stream', deadLetters: 'weft:{orders}:dlq' });
      expect(streamKey('p', 'etl.extract')).to.equal('p:{etl.extract}:stream');
      expect(deadLetterKey('p', 'etl.extract')).to.equal('p:{etl.extract}:dlq');
    });

    it('should put both keys of a queue in one cluster slot', () => {
      for (const q of ['orders', 'etl.extract', 'a', 'results.7f3a']) {
        const k = t.keys(q);
        expect(keySlot(k.stream)).to.equal(keySlot(k.deadLetters));
        expect(keySlot(k.stream)).to.equal(keySlot(q));
      }
    });

    it('should compute the slots Redis Cluster computes', () => {
      // Reference values of CLUSTER KEYSLOT.
      expect(keySlot('foo')).to.equal(12182);
      expect(keySlot('123456789')).to.equal(12739);
      expect(keySlot('{user1000}.following')).to.equal(keySlot('{user1000}.followers'));
      expect(keySlot('foo{}{bar}')).to.equal(keySlot('foo{}{bar}'));
      expect(keySlot('foo{{bar}}zap')).to.equal(keySlot('{bar'));
    });

    it('should write the messages and dead letters of a queue to exactly those keys', async () => {
      await t.publish('orders', [{ n: '1' }]);
      const [d] = await take('orders');
      await t.deadLetter('orders', 'g', d!, { code: 'WEFT_TEST', message: 'x' });
      const keys = (await redis.keys(`${prefix}*`)).sort();
      expect(keys).to.deep.equal([`${prefix}:{orders}:dlq`, `${prefix}:{orders}:stream`]);
      expect(await redis.type(`${prefix}:{orders}:stream`)).to.equal('stream');
      expect(await redis.type(`${prefix}:{orders}:dlq`)).to.equal('stream');
    });
  });

  describe('constructor', () => {
    it('should default retention to MAXLEN ~ 1,000,000 for queues and 100,000 for dead letters', () => {
      expect(t.maxLen).to.equal(DEFAULT_MAX_LEN).and.equal(1_000_000);
      expect(t.deadLetterMaxLen).to.equal(DEFAULT_DEAD_LETTER_MAX_LEN).and.equal(100_000);
    });

    it('should reject an empty prefix and a negative maxLen', () => {
      expect(() => new RedisStreamsTransport({ redis, prefix: '' })).to.throw(TypeError);
      expect(() => new RedisStreamsTransport({ redis, maxLen: -1 })).to.throw(TypeError);
    });

    it('should pass TLS options through to the client it creates', async () => {
      const tls = { rejectUnauthorized: false, servername: 'redis.internal', ca: 'PEM' };
      const x = new RedisStreamsTransport({ redis: { host: '127.0.0.1', port: 1, tls } });
      try {
        expect((x.client as Redis).options.tls).to.deep.include(tls);
      } finally {
        await x.close();
      }
    });

    it('should turn on TLS for a rediss:// URL and take the ACL user and password from it', async () => {
      const x = new RedisStreamsTransport({ redis: 'rediss://weft:s3cret@127.0.0.1:1' });
      try {
        const o = (x.client as Redis).options;
        expect(o.tls).to.not.equal(undefined);
        expect(o.username).to.equal('weft');
        expect(o.password).to.equal('s3cret');
      } finally {
        await x.close();
      }
    });

    it('should pass ACL username and password options through', async () => {
      const x = new RedisStreamsTransport({ redis: { host: '127.0.0.1', port: 1, username: 'weft', password: 'secret' } });
      try {
        expect((x.client as Redis).options).to.include({ username: 'weft', password: 'secret' });
      } finally {
        await x.close();
      }
    });
  });

  describe('publish', () => {
    it('should send 100 messages in one round trip, each an XADD with MAXLEN ~', async () => {
      const monitor = await redis.monitor();
      const seen: string[][] = [];
      const key = t.keys('bulk').stream;
      monitor.on('monitor', (_time: string, args: string[]) => { if (args[1] === key) seen.push(args); });
      try {
        await sleep(20);
        const writes = countWrites(redis);
        let ids: string[];
        try {
          ids = await t.publish('bulk', Array.from({ length: 100 }, (_, i) => ({ n: String(i), payload: Buffer.from([i]) })));
        } finally {
          writes.restore();
        }
        expect(writes.count).to.equal(1);
        expect(ids).to.have.length(100);
        for (let i = 0; i < 50 && seen.length < 100; i++) await sleep(10);
        expect(seen).to.have.length(100);
        for (const args of seen) expect(args.slice(0, 5).map((a) => a.toUpperCase())).to.deep.equal(['XADD', key.toUpperCase(), 'MAXLEN', '~', '1000000']);
      } finally {
        monitor.disconnect();
      }
    });

    it('should write fields exactly as given, binary values byte for byte', async () => {
      const payload = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const [id] = await t.publish('bin', [{ schema_id: 'abc', payload, text: 'héllo ✓' }]);
      const raw = await redis.xrangeBuffer(t.keys('bin').stream, '-', '+');
      expect(raw).to.have.length(1);
      const [rid, flat] = raw[0]!;
      expect(rid.toString()).to.equal(id);
      expect(flat.map((b) => b.toString('latin1')).filter((_, i) => i % 2 === 0)).to.deep.equal(['schema_id', 'payload', 'text']);
      expect(flat[3]!.equals(payload)).to.equal(true);
      expect(flat[5]!.toString('utf8')).to.equal('héllo ✓');
    });

    it('should trim the stream to about maxLen', async () => {
      const small = new RedisStreamsTransport({ redis, prefix, maxLen: 100 });
      for (let i = 0; i < 10; i++) await small.publish('trim', Array.from({ length: 100 }, (_, j) => ({ n: String(i * 100 + j) })));
      const len = await redis.xlen(small.keys('trim').stream);
      expect(len).to.be.at.least(100).and.below(400);
      await small.close();
    });

    it('should not trim with maxLen 0', async () => {
      const keepAll = new RedisStreamsTransport({ redis, prefix, maxLen: 0 });
      for (let i = 0; i < 5; i++) await keepAll.publish('keep', Array.from({ length: 200 }, () => ({ n: 'x' })));
      expect(await redis.xlen(keepAll.keys('keep').stream)).to.equal(1000);
      await keepAll.close();
    });

    it('should reject a message without fields', async () => {
      expect(await rejection(t.publish('q', [{}]))).to.be.instanceOf(TypeError);
    });
  });

  describe('consume', () => {
    it('should give the queue key a TTL with expireMs, on a packed read and on a blocking read', async () => {
      const key = t.keys('exp').stream;
      await t.publish('exp', [{ a: '1' }]);
      expect(await redis.pttl(key)).to.equal(-1, 'no TTL before a read asks for one');
      await t.consume('exp', { group: 'g', consumer: 'c', count: 10, blockMs: 0, expireMs: 60_000 });
      expect(await redis.pttl(key)).to.be.within(1, 60_000);
      await redis.persist(key);
      await t.publish('exp', [{ a: '2' }]);
      await t.consume('exp', { group: 'g', consumer: 'c', count: 10, blockMs: 20, expireMs: 30_000 });
      expect(await redis.pttl(key)).to.be.within(1, 30_000, 'the blocking path sets it too');
      await t.consume('exp', { group: 'g', consumer: 'c', count: 10, blockMs: 0 });
      expect(await redis.pttl(key)).to.be.within(1, 30_000, 'a read without expireMs leaves the TTL alone');
    });

    it('should read the same entries packed (no backlog wait) and blocking: many fields, long and binary values', async () => {
      const fields = (i: number): Record<string, string | Buffer> => {
        const f: Record<string, string | Buffer> = {};
        for (let k = 0; k < 20; k++) f[`field_${k}`] = `v${i}-${k}`;       // 40 items: a MessagePack array16
        f.medium = 'm'.repeat(300 + i);                                   // str16
        f.payload = Buffer.alloc(70_000 + i, i);                           // str32, binary
        f['名前'] = 'ünïcode ✓';
        return f;
      };
      const expectSame = (got: Delivery[], from: number): void => {
        got.forEach((d, j) => {
          const want = fields(from + j);
          expect(Object.keys(d.fields)).to.deep.equal(Object.keys(want));
          for (const [k, v] of Object.entries(want)) {
            expect(Buffer.from(d.fields[k] as Buffer).equals(Buffer.isBuffer(v) ? v : Buffer.from(v)), k).to.equal(true);
          }
        });
      };
      await t.publish('packed', [0, 1, 2].map(fields));
      const packed = await t.consume('packed', { group: 'g', consumer: 'c1', count: 10, blockMs: 0 });
      expect(packed).to.have.length(3);
      expectSame(packed, 0);
      const waiting = t.consume('packed', { group: 'g', consumer: 'c2', count: 10, blockMs: 2000 });
      await sleep(30);
      await t.publish('packed', [3, 4].map(fields));
      const blocked = await waiting;
      expect(blocked.length).to.be.within(1, 2);
      expectSame(blocked, 3);
    });

    it('should deliver every value as a Buffer by default and decode the others when binaryFields is a list', async () => {
      const payload = Buffer.from([0xc3, 0x28, 0xff, 0x00]);
      await t.publish('types', [{ payload, type: 'x.Y' }]);
      const [d] = await take('types');
      expect(Buffer.isBuffer(d!.fields.type)).to.equal(true);
      expect((d!.fields.payload as Buffer).equals(payload)).to.equal(true);
      const wire = new RedisStreamsTransport({ redis, prefix, binaryFields: ['payload'] });
      await wire.publish('types2', [{ payload, type: 'x.Y' }]);
      const [w] = await wire.consume('types2', { group: 'g', consumer: 'c', count: 1, blockMs: 0 });
      expect(w!.fields.type).to.equal('x.Y');
      expect((w!.fields.payload as Buffer).equals(payload)).to.equal(true);
      await wire.close();
    });

    it('should read in one round trip once the group exists', async () => {
      await t.publish('rt', Array.from({ length: 50 }, (_, i) => ({ n: String(i) })));
      await take('rt', 'c1', 1);
      const writes = countWrites(redis);
      let got: Delivery[];
      try {
        got = await take('rt', 'c1', 100);
      } finally {
        writes.restore();
      }
      expect(got).to.have.length(49);
      expect(writes.count).to.equal(1);
    });

    it('should create the group on demand, reading from the start of the stream', async () => {
      const ids = await t.publish('ondemand', [{ n: '1' }, { n: '2' }]);
      const got = await take('ondemand');
      expect(got.map((d) => d.id)).to.deep.equal(ids);
      const groups = (await redis.xinfo('GROUPS', t.keys('ondemand').stream)) as unknown[][];
      expect(groups).to.have.length(1);
      expect(groups[0]![1]).to.equal('g');
    });

    it('should create the stream with the group when the queue has no stream yet', async () => {
      expect(await take('fresh')).to.deep.equal([]);
      expect(await redis.exists(t.keys('fresh').stream)).to.equal(1);
    });

    it('should tolerate BUSYGROUP when concurrent consumers create the same group', async () => {
      const ids = await t.publish('race', Array.from({ length: 10 }, (_, i) => ({ n: String(i) })));
      const other = new RedisStreamsTransport({ redis: REDIS_URL, prefix });
      try {
        const results = await Promise.all([
          ...['a', 'b', 'c'].map((c) => t.consume('race', { group: 'g', consumer: c, count: 2, blockMs: 0 })),
          ...['d', 'e'].map((c) => other.consume('race', { group: 'g', consumer: c, count: 2, blockMs: 0 })),
        ]);
        expect(results.flat().map((d) => d.id).sort()).to.deep.equal([...ids].sort());
      } finally {
        await other.close();
      }
    });

    it('should recreate the group and go on after the stream was deleted (NOGROUP)', async () => {
      await t.publish('deleted', [{ n: 'old' }]);
      expect(await take('deleted')).to.have.length(1);
      await redis.del(t.keys('deleted').stream);
      const [id] = await t.publish('deleted', [{ n: 'new' }]); // a new stream without the group
      const got = await take('deleted');
      expect(got.map((d) => [d.id, (d.fields.n as Buffer).toString()])).to.deep.equal([[id, 'new']]);
    });

    it('should recreate a group that was destroyed (NOGROUP) while waiting', async () => {
      await take('destroyed');
      await redis.xgroup('DESTROY', t.keys('destroyed').stream, 'g');
      const [id] = await t.publish('destroyed', [{ n: '1' }]);
      const got = await t.consume('destroyed', { group: 'g', consumer: 'c1', count: 10, blockMs: 200 });
      expect(got.map((d) => d.id)).to.deep.equal([id]);
    });

    it('should not hold up other commands while it waits', async () => {
      await take('blocking');
      const waiting = t.consume('blocking', { group: 'g', consumer: 'c1', count: 10, blockMs: 2000 });
      await sleep(30);
      const started = Date.now();
      await t.publish('other', [{ n: '1' }]);
      expect(await t.backlog('other', 'g')).to.equal(1);
      expect(Date.now() - started).to.be.below(500);
      const [id] = await t.publish('blocking', [{ n: 'wake' }]);
      expect((await waiting).map((d) => d.id)).to.deep.equal([id]);
    });

    it('should let several consumers of one transport wait at the same time', async () => {
      await take('many');
      const waits = ['c1', 'c2', 'c3'].map((c) => t.consume('many', { group: 'g', consumer: c, count: 1, blockMs: 3000 }));
      await sleep(50);
      const started = Date.now();
      const ids = await t.publish('many', [{ n: '1' }, { n: '2' }, { n: '3' }]);
      const got = (await Promise.all(waits)).flat();
      expect(Date.now() - started).to.be.below(1000);
      expect(got.map((d) => d.id).sort()).to.deep.equal([...ids].sort());
    });
  });

  describe('ack', () => {
    it('should ack and publish follow messages in one round trip, follow messages first', async () => {
      const [id] = await t.publish('work', [{ n: 'task' }]);
      await take('work');
      const writes = countWrites(redis);
      try {
        await t.ack('work', 'g', [id!], [{ queue: 'results', fields: { status: 'ok' } }, { queue: 'audit', fields: { n: '1' } }]);
      } finally {
        writes.restore();
      }
      expect(writes.count).to.equal(1);
      expect(await t.backlog('work', 'g')).to.equal(0);
      expect(await redis.xlen(t.keys('results').stream)).to.equal(1);
      expect(await redis.xlen(t.keys('audit').stream)).to.equal(1);
    });

    it('should leave acked entries in the stream for MAXLEN to trim', async () => {
      const ids = await t.publish('retain', [{ n: '1' }, { n: '2' }]);
      await take('retain');
      await t.ack('retain', 'g', ids);
      expect(await redis.xlen(t.keys('retain').stream)).to.equal(2);
      expect(await t.backlog('retain', 'g')).to.equal(0);
    });
  });

  describe('deadLetter', () => {
    it('should write the original fields plus the reason fields and ack, in one round trip', async () => {
      const payload = Buffer.from([0, 1, 2, 0xff]);
      const [id] = await t.publish('bad', [{ schema_id: 'feed', payload }]);
      const [d] = await take('bad');
      const writes = countWrites(redis);
      const before = Date.now();
      try {
        await t.deadLetter('bad', 'g', d!, { code: 'WEFT_SCHEMA_NOT_FOUND', message: 'no schema feed', details: { attempts: '3', worker: 'w1' } });
      } finally {
        writes.restore();
      }
      expect(writes.count).to.equal(1);
      expect(await t.backlog('bad', 'g')).to.equal(0);
      const [entry] = await rawEntries(redis, t.keys('bad').deadLetters);
      expect(Object.keys(entry!.fields)).to.deep.equal([
        'schema_id', 'payload', 'dlq_code', 'dlq_message', 'dlq_original_id', 'dlq_at_ms', 'dlq_detail_attempts', 'dlq_detail_worker',
      ]);
      expect(entry!.fields).to.include({
        schema_id: 'feed',
        [DeadLetterField.CODE]: 'WEFT_SCHEMA_NOT_FOUND',
        [DeadLetterField.MESSAGE]: 'no schema feed',
        [DeadLetterField.ORIGINAL_ID]: id,
        dlq_detail_attempts: '3',
        dlq_detail_worker: 'w1',
      });
      expect(Number(entry!.fields.dlq_at_ms)).to.be.within(before, Date.now());
      const raw = await redis.xrangeBuffer(t.keys('bad').deadLetters, '-', '+');
      expect(raw[0]![1][3]!.equals(payload)).to.equal(true);
      const [dl] = await t.deadLetters('bad');
      expect(dl!.originalId).to.equal(id);
      expect(dl!.reason).to.deep.equal({ code: 'WEFT_SCHEMA_NOT_FOUND', message: 'no schema feed', details: { attempts: '3', worker: 'w1' } });
      expect(Object.keys(dl!.fields)).to.deep.equal(['schema_id', 'payload']);
    });

    it('should replace the reason fields of a message dead-lettered again', async () => {
      await t.publish('again', [{ n: '1' }]);
      const [d] = await take('again');
      await t.deadLetter('again', 'g', d!, { code: 'A', message: 'first' });
      const [dl] = await t.deadLetters('again');
      // An operator replays the dead letter as it is; it fails again.
      await t.publish('again', [{ ...dl!.fields, dlq_code: 'A' }]);
      const [d2] = await take('again');
      await t.deadLetter('again', 'g', d2!, { code: 'B', message: 'second' });
      const entries = await rawEntries(redis, t.keys('again').deadLetters);
      expect(entries[1]!.fields).to.include({ n: '1', dlq_code: 'B', dlq_message: 'second' });
      expect(Object.keys(entries[1]!.fields).filter((k) => k === 'dlq_code')).to.have.length(1);
    });

    it('should trim the dead letters to about deadLetterMaxLen', async () => {
      const x = new RedisStreamsTransport({ redis, prefix, deadLetterMaxLen: 10 });
      await x.publish('dl', Array.from({ length: 300 }, (_, i) => ({ n: String(i) })));
      const got = await x.consume('dl', { group: 'g', consumer: 'c', count: 300, blockMs: 0 });
      await Promise.all(got.map((d) => x.deadLetter('dl', 'g', d, { code: 'X', message: 'x' })));
      expect(await redis.xlen(x.keys('dl').deadLetters)).to.be.below(300);
      await x.close();
    });
  });

  describe('reclaim', () => {
    it('should claim in one round trip and report deliveryCount from XPENDING', async () => {
      const ids = await t.publish('rc', [{ n: '1' }, { n: '2' }]);
      await take('rc', 'crashed');
      await t.reclaim('rc', { group: 'g', consumer: 'warm', minIdleMs: 60_000, count: 1 }); // loads the script
      const writes = countWrites(redis);
      let back: Delivery[];
      try {
        back = await t.reclaim('rc', { group: 'g', consumer: 'c2', minIdleMs: 0, count: 10 });
      } finally {
        writes.restore();
      }
      expect(writes.count).to.equal(1);
      expect(back.map((d) => [d.id, d.deliveryCount])).to.deep.equal(ids.map((id) => [id, 2]));
      const pending = (await redis.xpending(t.keys('rc').stream, 'g', '-', '+', 10)) as [string, string, number, number][];
      expect(pending.map((p) => [p[1], p[3]])).to.deep.equal([['c2', 2], ['c2', 2]]);
    });

    it('should walk the pending list past live entries within one call', async () => {
      const ids = await t.publish('walk', Array.from({ length: 300 }, (_, i) => ({ n: String(i) })));
      await take('walk', 'c1', 300);
      await sleep(120);
      await t.touch('walk', 'g', 'c1', ids.slice(0, 250)); // the first 250 are still being worked on
      const back = await t.reclaim('walk', { group: 'g', consumer: 'c2', minIdleMs: 100, count: 10 });
      expect(back.map((d) => d.id)).to.deep.equal(ids.slice(250, 260));
    });

    it('should skip entries trimmed from the stream while pending', async () => {
      const ids = await t.publish('gone', [{ n: '1' }, { n: '2' }, { n: '3' }]);
      await take('gone', 'crashed');
      await redis.xdel(t.keys('gone').stream, ids[1]!);
      const back = await t.reclaim('gone', { group: 'g', consumer: 'c2', minIdleMs: 0, count: 10 });
      expect(back.map((d) => d.id)).to.deep.equal([ids[0], ids[2]]);
    });

    it('should return nothing for a queue or group that does not exist', async () => {
      expect(await t.reclaim('nothing', { group: 'g', consumer: 'c', minIdleMs: 0, count: 10 })).to.deep.equal([]);
      await t.publish('nogroup', [{ n: '1' }]);
      expect(await t.reclaim('nogroup', { group: 'g', consumer: 'c', minIdleMs: 0, count: 10 })).to.deep.equal([]);
    });
  });

  describe('touch', () => {
    it('should refresh idle time in one round trip without counting a delivery', async () => {
      const ids = await t.publish('hb', [{ n: '1' }, { n: '2' }]);
      await take('hb', 'c1');
      await t.touch('hb', 'g', 'c1', ids); // loads the script
      await sleep(80);
      const writes = countWrites(redis);
      try {
        await t.touch('hb', 'g', 'c1', ids);
      } finally {
        writes.restore();
      }
      expect(writes.count).to.equal(1);
      const pending = (await redis.xpending(t.keys('hb').stream, 'g', '-', '+', 10)) as [string, string, number, number][];
      for (const [, owner, idle, deliveries] of pending) {
        expect(owner).to.equal('c1');
        expect(idle).to.be.below(60);
        expect(deliveries).to.equal(1);
      }
    });

    it('should not take back a message another consumer has reclaimed', async () => {
      const [id] = await t.publish('steal', [{ n: '1' }]);
      await take('steal', 'slow');
      await t.reclaim('steal', { group: 'g', consumer: 'rescuer', minIdleMs: 0, count: 10 });
      await t.touch('steal', 'g', 'slow', [id!]);
      const pending = (await redis.xpending(t.keys('steal').stream, 'g', '-', '+', 10)) as [string, string, number, number][];
      expect(pending.map((p) => p[1])).to.deep.equal(['rescuer']);
    });

    it('should ignore acked ids and a missing group', async () => {
      const [id] = await t.publish('tacked', [{ n: '1' }]);
      await take('tacked');
      await t.ack('tacked', 'g', [id!]);
      await t.touch('tacked', 'g', 'c1', [id!]);
      await t.touch('no-such-queue', 'g', 'c1', ['1-0']);
      expect(await t.backlog('tacked', 'g')).to.equal(0);
    });
  });

  describe('backlog', () => {
    it('should add pending and lag in one round trip', async () => {
      await t.publish('bl', Array.from({ length: 5 }, (_, i) => ({ n: String(i) })));
      await take('bl', 'c1', 2);
      const writes = countWrites(redis);
      let n: number;
      try {
        n = await t.backlog('bl', 'g');
      } finally {
        writes.restore();
      }
      expect(writes.count).to.equal(1);
      expect(n).to.equal(5);
    });

    it('should count the unread entries when Redis cannot compute lag', async () => {
      const ids = await t.publish('nolag', Array.from({ length: 5 }, (_, i) => ({ n: String(i) })));
      await take('nolag', 'c1', 2);
      await redis.xdel(t.keys('nolag').stream, ids[3]!); // a tombstone after the group's last id
      const groups = (await redis.xinfo('GROUPS', t.keys('nolag').stream)) as unknown[][];
      expect(groups[0]![groups[0]!.indexOf('lag') + 1]).to.equal(null);
      expect(await t.backlog('nolag', 'g')).to.equal(4); // 2 pending + 2 unread
    });
  });

  describe('a client with an ioredis keyPrefix', () => {
    it('should publish, read packed and blocking, ack with follow-ups and reclaim, all under the prefix', async () => {
      const prefixed = new Redis(REDIS_URL, { keyPrefix: 'kp:' });
      const x = new RedisStreamsTransport({ redis: prefixed, prefix });
      try {
        const ids = await x.publish('kq', [{ n: '1', payload: Buffer.from([1]) }, { n: '2', payload: Buffer.from([2]) }]);
        expect(await redis.xlen(`kp:${x.keys('kq').stream}`)).to.equal(2);
        expect(await redis.exists(x.keys('kq').stream)).to.equal(0);
        const got = await x.consume('kq', { group: 'g', consumer: 'c', count: 10, blockMs: 0 });
        expect(got.map((d) => d.id)).to.deep.equal(ids);
        await x.ack('kq', 'g', [ids[0]!], [{ queue: 'kq-out', fields: { r: 'ok' } }, { queue: 'kq-out', fields: { r: 'ok2' } }]);
        expect(await redis.xlen(`kp:${x.keys('kq-out').stream}`)).to.equal(2);
        expect(await x.reclaim('kq', { group: 'g', consumer: 'c2', minIdleMs: 0, count: 10 })).to.have.length(1);
        const waiting = x.consume('kq', { group: 'g', consumer: 'c', count: 10, blockMs: 2000, ack: [ids[1]!] });
        await sleep(30);
        const [late] = await x.publish('kq', [{ n: '3' }]);
        expect((await waiting).map((d) => d.id)).to.deep.equal([late]);
        expect(await x.backlog('kq', 'g')).to.equal(1);
      } finally {
        await x.close();
        await deletePrefix(redis, `kp:${prefix}`);
        prefixed.disconnect();
      }
    });
  });

  describe('close', () => {
    it('should make a blocked consume return [] promptly and resolve', async () => {
      const x = new RedisStreamsTransport({ redis: REDIS_URL, prefix });
      await x.init();
      await x.consume('cl', { group: 'g', consumer: 'c', count: 1, blockMs: 0 });
      const waits = [1, 2].map(() => x.consume('cl', { group: 'g', consumer: 'c', count: 1, blockMs: 30_000 }));
      await sleep(50);
      const started = Date.now();
      await x.close();
      expect(await Promise.all(waits)).to.deep.equal([[], []]);
      expect(Date.now() - started).to.be.below(500);
      expect(x.client.status).to.equal('end');
    });

    it('should leave a client that was passed in open, and close the connections it opened', async () => {
      const mine = await connectTestRedis();
      try {
        const x = new RedisStreamsTransport({ redis: mine, prefix });
        await x.init();
        await x.consume('keep', { group: 'g', consumer: 'c', count: 1, blockMs: 20 });
        await x.close();
        expect(mine.status).to.equal('ready');
        expect(await mine.ping()).to.equal('PONG');
      } finally {
        mine.disconnect();
      }
    });

    it('should refuse calls after close with a TransportError', async () => {
      await t.close();
      const e = await rejection(t.publish('q', [{ n: '1' }]));
      expect(e).to.be.instanceOf(TransportError);
      expect((e as TransportError).code).to.equal('WEFT_TRANSPORT_ERROR');
    });
  });

  describe('connection', () => {
    it('should authenticate as an ACL user with username and password', async function () {
      this.timeout(10_000);
      const server = await startPrivateRedis();
      const admin = new Redis(server.url);
      try {
        await admin.call('ACL', 'SETUSER', 'weft', 'on', '>secret', '~*', '&*', '+@all');
        await admin.call('ACL', 'SETUSER', 'default', 'off');
        const x = new RedisStreamsTransport({ redis: { host: '127.0.0.1', port: server.port, username: 'weft', password: 'secret' } });
        await x.init();
        const [id] = await x.publish('acl', [{ n: '1' }]);
        const got = await x.consume('acl', { group: 'g', consumer: 'c', count: 1, blockMs: 100 });
        expect(got.map((d) => d.id)).to.deep.equal([id]);
        expect(await admin.call('ACL', 'WHOAMI')).to.equal('default');
        await x.close();

        const viaUrl = new RedisStreamsTransport({ redis: `redis://weft:secret@127.0.0.1:${server.port}` });
        await viaUrl.init();
        expect(await viaUrl.backlog('acl', 'g')).to.equal(1);
        await viaUrl.close();

        const wrong = new RedisStreamsTransport({
          redis: { host: '127.0.0.1', port: server.port, username: 'weft', password: 'nope', retryStrategy: () => null, maxRetriesPerRequest: 0 },
        });
        const e = await rejection(wrong.init());
        expect(e).to.be.instanceOf(TransportError);
        expect(String((e as Error).message)).to.match(/WRONGPASS|invalid username-password/i);
        await wrong.close();
      } finally {
        admin.disconnect();
        await server.stop();
      }
    });

    it('should connect over TLS to a redis-server with tls-port', async function () {
      this.timeout(20_000);
      const tls = await startTlsRedis();
      try {
        const x = new RedisStreamsTransport({
          redis: { host: '127.0.0.1', port: tls.port, tls: { ca: tls.ca, servername: 'localhost' } },
        });
        await x.init();
        const [id] = await x.publish('tls', [{ payload: Buffer.from([1, 2, 3]) }]);
        const got = await x.consume('tls', { group: 'g', consumer: 'c', count: 1, blockMs: 100 });
        expect(got.map((d) => d.id)).to.deep.equal([id]);
        expect((got[0]!.fields.payload as Buffer).equals(Buffer.from([1, 2, 3]))).to.equal(true);
        // A blocking read runs on a duplicate connection, which keeps the TLS options.
        const waiting = x.consume('tls', { group: 'g', consumer: 'c', count: 1, blockMs: 10_000 });
        await sleep(50);
        await x.close();
        expect(await waiting).to.deep.equal([]);

        const untrusted = new RedisStreamsTransport({
          redis: { host: '127.0.0.1', port: tls.port, tls: {}, retryStrategy: () => null, maxRetriesPerRequest: 0 },
        });
        expect(await rejection(untrusted.init())).to.be.instanceOf(TransportError);
        await untrusted.close();
      } finally {
        await tls.stop();
      }
    });
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A redis-server that listens only on a TLS port, with a throwaway CA and server certificate. */
async function startTlsRedis(): Promise<{ port: number; ca: Buffer; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-tls-'));
  const f = (name: string): string => join(dir, name);
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'ignore' }); };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=weft-test-ca');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.crt'), '-days', '1', '-extfile', f('ext.cnf'));
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', [
    '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--tls-cert-file', f('server.crt'), '--tls-key-file', f('server.key'), '--tls-ca-cert-file', f('ca.crt'),
    '--tls-auth-clients', 'no',
  ], { stdio: 'ignore' });
  const ca = execFileSync('cat', [f('ca.crt')]);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    const probe = new Redis({ host: '127.0.0.1', port, tls: { ca, servername: 'localhost' }, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return { port, ca, stop };
    } catch {
      probe.disconnect();
      await sleep(50);
    }
  }
  await stop();
  throw new Error('redis-server with --tls-port did not answer over TLS within 5 s');
}

describe('trimThreshold', () => {
  it('should return the id right after the newest id, across milliseconds and sequences', () => {
    expect(trimThreshold(['5-3', '12-0', '12-7', '9-99'])).to.equal('12-8');
    expect(trimThreshold(['1700000000000-18446744073709551615'])).to.equal('1700000000001-0');
    expect(trimThreshold(['not-an-id', ''])).to.equal('');
    expect(trimThreshold([])).to.equal('');
  });
});
