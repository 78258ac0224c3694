import { evalScript, luaScript } from './lua';
import { clientFor, connectOwned, quitClient, type RedisClientLike, type RedisConnection } from './connection';
import type { AddVersionResult, SchemaStore, StoredVersion } from '../../core/registry';
import type { CompatibilityMode } from '../../core/schema/compat';

export type { RedisClientLike } from './connection';

/** Options of {@link RedisSchemaStore}. */
export interface RedisSchemaStoreOptions {
  /**
   * Where to connect. A URL string or ioredis options: the store creates the client and closes it
   * in `close()`. An existing ioredis client (`Redis` or `Cluster`): the store uses it and never
   * closes it. Default `redis://127.0.0.1:6379`.
   */
  readonly redis?: RedisConnection;
  /** Key prefix. Default `weft`. Producers and consumers must agree on it. */
  readonly prefix?: string;
}

/** Default key prefix, as in the wire contract. */
export const DEFAULT_PREFIX = 'weft';

/*
 * Compare-and-set append of a version to one subject hash (a single key: Redis Cluster safe).
 * KEYS[1] subject hash; ARGV[1] schema id; ARGV[2] expected latest version.
 * Returns {0, v} added, {1, v} already registered at v, {2, latest} conflict.
 */
const ADD_VERSION_LUA = `
local found = redis.call('HGET', KEYS[1], 'id:' .. ARGV[1])
if found then return {1, tonumber(found)} end
local latest = tonumber(redis.call('HGET', KEYS[1], 'latest') or '0')
if latest ~= tonumber(ARGV[2]) then return {2, latest} end
local v = latest + 1
redis.call('HSET', KEYS[1], 'latest', v, 'v:' .. v, ARGV[1], 'id:' .. ARGV[1], v)
return {0, v}
`;
const ADD_VERSION = luaScript(ADD_VERSION_LUA);

/**
 * A {@link SchemaStore} in Redis, following the wire contract.
 *
 * @remarks
 * Key layout (`<prefix>` defaults to `weft`):
 * - `<prefix>:schemas`: HASH, field `schema_id` -> serialized `FileDescriptorProto` bytes.
 *   Written with `HSETNX` (first writer wins), read with `HGET`/`HMGET` as Buffers.
 * - `<prefix>:subject:{<subject>}`: HASH, one per subject, hash-tagged on the subject. Fields:
 *   `mode` (compatibility mode, absent = registry default), `latest` (newest version number),
 *   `v:<n>` -> schema id of version n, `id:<schema_id>` -> its version. `addVersion` is one Lua
 *   script over this single key, so it is atomic and Redis Cluster safe.
 *
 * No operation touches two keys at once. Subjects are message full names, which never contain
 * braces, so the hash tag is always the whole subject.
 */
export class RedisSchemaStore implements SchemaStore {
  /** Always `redis`. */
  readonly name = 'redis';
  /** The key prefix in use. */
  readonly prefix: string;
  /** The client the store talks through. */
  readonly client: RedisClientLike;
  private readonly owned: boolean;
  private readonly schemasKey: string;

  constructor(options: RedisSchemaStoreOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!this.prefix) throw new TypeError('RedisSchemaStore: prefix must not be empty');
    this.schemasKey = `${this.prefix}:schemas`;
    ({ client: this.client, owned: this.owned } = clientFor(options.redis));
  }

  /** The HASH key of a subject's history and mode. */
  subjectKey(subject: string): string {
    return `${this.prefix}:subject:{${subject}}`;
  }

  /** Connects a client the store created; a no-op for a client it was given. */
  async init(): Promise<void> {
    if (this.owned) await connectOwned(this.client);
  }

  /** Closes the client when the store created it; a client it was given stays open. */
  async close(): Promise<void> {
    if (this.owned) await quitClient(this.client);
  }

  /** {@inheritDoc SchemaStore.putSchema} */
  async putSchema(id: string, bytes: Uint8Array): Promise<boolean> {
    const n = await this.client.hsetnx(this.schemasKey, id, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return n === 1;
  }

  /** {@inheritDoc SchemaStore.getSchema} */
  async getSchema(id: string): Promise<Uint8Array | undefined> {
    const b = await this.client.hgetBuffer(this.schemasKey, id);
    return b ?? undefined;
  }

  /** {@inheritDoc SchemaStore.getSchemas} */
  async getSchemas(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (ids.length === 0) return [];
    const all = await this.client.hmgetBuffer(this.schemasKey, ...ids);
    return all.map((b) => b ?? undefined);
  }

  /** {@inheritDoc SchemaStore.listVersions} */
  async listVersions(subject: string): Promise<StoredVersion[]> {
    const h = await this.client.hgetall(this.subjectKey(subject));
    const out: StoredVersion[] = [];
    for (const [field, value] of Object.entries(h)) {
      if (field.startsWith('v:')) out.push({ version: Number(field.slice(2)), id: value });
    }
    return out.sort((a, b) => a.version - b.version);
  }

  /** {@inheritDoc SchemaStore.getMode} */
  async getMode(subject: string): Promise<CompatibilityMode | undefined> {
    const m = await this.client.hget(this.subjectKey(subject), 'mode');
    return (m ?? undefined) as CompatibilityMode | undefined;
  }

  /** {@inheritDoc SchemaStore.setMode} */
  async setMode(subject: string, mode: CompatibilityMode): Promise<void> {
    await this.client.hset(this.subjectKey(subject), 'mode', mode);
  }

  /** {@inheritDoc SchemaStore.addVersion} */
  async addVersion(subject: string, id: string, expectedLatestVersion: number): Promise<AddVersionResult> {
    const key = this.subjectKey(subject);
    const [code, n] = (await evalScript(this.client, ADD_VERSION, [key], [id, expectedLatestVersion])) as [number, number];
    if (code === 0) return { status: 'added', version: n };
    if (code === 1) return { status: 'exists', version: n };
    return { status: 'conflict', latestVersion: n };
  }
}
