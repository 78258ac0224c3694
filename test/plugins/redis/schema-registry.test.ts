import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type Redis from 'ioredis';
import { expect } from 'chai';
import { handSchema } from '../../core/registry/hand-schemas';
import { SchemaRegistry } from '../../../core/registry';
import { SchemaCorruptError, SchemaNotFoundError } from '../../../core/errors';
import { schemaOf } from '../../../core/schema/schema';
import { RedisSchemaStore } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';
import { Order } from '../../fixtures/shop';
import { VERSIONS_SUBJECT, versionFor } from './fixtures/register';

const ROOT = path.resolve(__dirname, '../../..');
const CHILD = path.join(__dirname, 'fixtures', 'register.ts');

/**
 * Records, through MONITOR, every command that reaches Redis from one client connection
 * (matched on the connection's address), so counts are what the server saw, not what we think
 * the client sent.
 */
class CommandRecorder {
  readonly commands: string[][] = [];
  private constructor(private readonly monitor: Redis, private readonly base: Redis, private readonly target: Redis, private readonly addr: string) {}

  static async attach(target: Redis): Promise<CommandRecorder> {
    const info = String(await target.call('CLIENT', 'INFO'));
    const addr = /\baddr=(\S+)/.exec(info)?.[1];
    if (!addr) throw new Error(`cannot read the client address from CLIENT INFO: ${info}`);
    const base = await connectTestRedis();
    const monitor = await base.monitor();
    const rec = new CommandRecorder(monitor, base, target, addr);
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === addr) rec.commands.push(args);
    });
    return rec;
  }

  /** Waits until every command the target sent so far has been seen (a PING marker goes last). */
  async flush(): Promise<void> {
    const marker = `flush-${Math.random().toString(36).slice(2)}`;
    await this.target.ping(marker);
    const deadline = Date.now() + 5000;
    while (!this.commands.some((c) => c[0].toLowerCase() === 'ping' && c[1] === marker)) {
      if (Date.now() > deadline) throw new Error('MONITOR did not report the marker');
      await new Promise((r) => setTimeout(r, 5));
    }
    const i = this.commands.findIndex((c) => c[0].toLowerCase() === 'ping' && c[1] === marker);
    this.commands.splice(i, 1);
  }

  count(name: string, ...args: string[]): number {
    return this.commands.filter((c) => c[0].toLowerCase() === name && args.every((a, i) => c[i + 1] === a)).length;
  }

  async detach(): Promise<void> {
    this.monitor.disconnect();
    await this.base.quit();
  }
}

interface ChildResult { version?: number; created?: boolean; id?: string; error?: string }

/** Starts `n` register.ts children, releases them together once all are connected, and collects their results. */
async function raceChildren(redis: Redis, prefix: string, variant: 'same' | 'versions', n: number): Promise<ChildResult[]> {
  const children = Array.from({ length: n }, (_, i) => new Promise<ChildResult>((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', CHILD, REDIS_URL, prefix, variant, String(i)], {
      cwd: ROOT, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', () => {
      try { resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as ChildResult); } catch { reject(new Error(`child ${i} printed ${out} ${err}`)); }
    });
  }));
  const deadline = Date.now() + 60_000;
  while ((await redis.llen(`${prefix}:ready`)) < n) {
    if (Date.now() > deadline) throw new Error('children did not get ready');
    await new Promise((r) => setTimeout(r, 20));
  }
  await redis.rpush(`${prefix}:go`, ...Array.from({ length: n }, () => 'go'));
  return Promise.all(children);
}

describe('SchemaRegistry over RedisSchemaStore', () => {
  let redis: Redis;
  let prefix: string;

  before(async () => { redis = await connectTestRedis(); });
  after(async () => { await redis.quit(); });
  beforeEach(() => { prefix = uniquePrefix('registry'); });
  afterEach(async () => { await deletePrefix(redis, prefix); });

  describe('resolve', () => {
    it('should fetch an unknown schema id from Redis at most once per process', async () => {
      const s = schemaOf(Order);
      await redis.hset(`${prefix}:schemas`, s.id, Buffer.from(s.bytes));
      const client = await connectTestRedis();
      const recorder = await CommandRecorder.attach(client);
      const store = new RedisSchemaStore({ redis: client, prefix });
      try {
        const registry = new SchemaRegistry(store);
        const concurrent = await Promise.all(Array.from({ length: 100 }, () => registry.resolve(s.id)));
        for (let i = 0; i < 100; i++) await registry.resolve(s.id);
        await recorder.flush();
        expect(new Set(concurrent).size).to.equal(1);
        expect(Buffer.from(concurrent[0].bytes).equals(Buffer.from(s.bytes))).to.equal(true);
        expect(recorder.count('hget', `${prefix}:schemas`, s.id)).to.equal(1);
        expect(recorder.commands).to.have.length(1); // nothing else reached Redis
      } finally {
        await store.close();
        await recorder.detach();
        await client.quit();
      }
    });

    it('should ask Redis once per negative-cache TTL about a missing id', async () => {
      const missing = handSchema('test.race.Missing', [{ name: 'x', number: 1, type: 'bool' }]);
      const client = await connectTestRedis();
      const recorder = await CommandRecorder.attach(client);
      const store = new RedisSchemaStore({ redis: client, prefix });
      try {
        let now = 0;
        const registry = new SchemaRegistry(store, { notFoundTtlMs: 1000, now: () => now });
        const errs = await Promise.all(Array.from({ length: 100 }, () => registry.resolve(missing.id).catch((e: unknown) => e)));
        for (let i = 0; i < 100; i++) await registry.resolve(missing.id).catch(() => undefined);
        expect(errs.every((e) => e instanceof SchemaNotFoundError)).to.equal(true);
        await recorder.flush();
        expect(recorder.count('hget', `${prefix}:schemas`, missing.id)).to.equal(1);
        now = 1000;
        await registry.resolve(missing.id).catch(() => undefined);
        await recorder.flush();
        expect(recorder.count('hget', `${prefix}:schemas`, missing.id)).to.equal(2);
      } finally {
        await store.close();
        await recorder.detach();
        await client.quit();
      }
    });

    it('should throw SchemaCorruptError when an entry was overwritten in Redis', async () => {
      const store = new RedisSchemaStore({ redis, prefix });
      const good = handSchema('test.race.Corrupt', [{ name: 'x', number: 1, type: 'bool' }]);
      const other = handSchema('test.race.Corrupt', [{ name: 'y', number: 2, type: 'bool' }]);
      await new SchemaRegistry(store).register(good);
      await redis.hset(`${prefix}:schemas`, good.id, Buffer.from(other.bytes));
      const err = await new SchemaRegistry(store).resolve(good.id).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SchemaCorruptError);
      expect((err as SchemaCorruptError).schemaId).to.equal(good.id);
    });
  });

  describe('register', function () {
    this.timeout(90_000);

    it('should be safe when many processes register the same schema at once', async () => {
      const s = schemaOf(Order);
      const results = await raceChildren(redis, prefix, 'same', 6);
      expect(results.map((r) => r.error)).to.deep.equal(results.map(() => undefined));
      expect(results.map((r) => r.version)).to.deep.equal(results.map(() => 1));
      expect(results.filter((r) => r.created)).to.have.length(1);
      expect(await redis.hkeys(`${prefix}:schemas`)).to.deep.equal([s.id]);
      const raw = await redis.hgetBuffer(`${prefix}:schemas`, s.id);
      expect(raw!.equals(Buffer.from(s.bytes))).to.equal(true);
      expect(await new RedisSchemaStore({ redis, prefix }).listVersions(s.fullName)).to.deep.equal([{ version: 1, id: s.id }]);
    });

    it('should keep a gapless, duplicate-free history when many processes register different versions at once', async () => {
      const n = 6;
      const results = await raceChildren(redis, prefix, 'versions', n);
      expect(results.map((r) => r.error)).to.deep.equal(results.map(() => undefined));
      const expectedIds = Array.from({ length: n }, (_, i) => versionFor(i).id);
      const history = await new RedisSchemaStore({ redis, prefix }).listVersions(VERSIONS_SUBJECT);
      expect(history.map((h) => h.version)).to.deep.equal(Array.from({ length: n }, (_, i) => i + 1));
      expect([...history.map((h) => h.id)].sort()).to.deep.equal([...expectedIds].sort());
      results.forEach((r, i) => {
        expect(r.created).to.equal(true);
        expect(history.find((h) => h.version === r.version)?.id).to.equal(expectedIds[i]);
      });
      expect([...(await redis.hkeys(`${prefix}:schemas`))].sort()).to.deep.equal([...expectedIds].sort());
    });
  });
});
