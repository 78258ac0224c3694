import {
  applyChange, checkChange, checkRecord, DEFAULT_WORKFLOW_RETENTION_MS, isTerminalStatus, parseMeta, WORKFLOW_FAILURES_LIMIT,
  type NewWorkflow, type RecordManyOutcome, type StoredOutput, type UpdateOutcome, type WorkflowChange, type WorkflowMeta,
  type WorkflowRecord, type WorkflowState, type WorkflowStore,
} from '../../core/workflow/store';
import { clientFor, connectOwned, quitClient, type RedisClientLike, type RedisConnection } from './connection';
import { escapeKeyPart } from './dispatch-store';
import { evalScript, luaScript, type LuaScript } from './lua';
import { DEFAULT_PREFIX } from './schema-store';

/** Options of {@link RedisWorkflowStore}. */
export interface RedisWorkflowStoreOptions {
  /** A URL or ioredis options (the store creates and closes the client), or your client (never closed). */
  readonly redis?: RedisConnection;
  /** Key prefix. Default `weft`. */
  readonly prefix?: string;
  /** How long a terminal execution is kept, ms (a TTL set when it ends). `0`: until deleted. Default 7 days. */
  readonly retentionMs?: number;
}

/** The HASH of one execution: `<prefix>:{<executionId>}:workflow` (the id escaped; same hash tag as its dispatch records). */
export function workflowKey(prefix: string, executionId: string): string {
  return `${prefix}:{${escapeKeyPart(executionId)}}:workflow`;
}

/** Returns `{code, meta, input bytes, input schema id}`; code 0 = no such execution. */
const TAIL = `
local function out(code, meta)
  local r = redis.call('HMGET', KEYS[1], 'in', 'in_s')
  return {code, meta, r[1], r[2]}
end
`;

/** KEYS[1] hash; ARGV meta JSON, input bytes, input schema id. 1 = created, else the existing `{2, meta, in, in_s}`. */
const CREATE: LuaScript = luaScript(`${TAIL}
local m = redis.call('HGET', KEYS[1], 'meta')
if m then return out(2, m) end
redis.call('HSET', KEYS[1], 'meta', ARGV[1], 'in', ARGV[2], 'in_s', ARGV[3])
return 1
`);

/**
 * Records outcomes in order, each once. KEYS[1] hash; ARGV [1] now ms, [2] failures limit, then per
 * entry 5 values: stage, index, 'o' (output) or 'f' (failure), output bytes or failure JSON,
 * output schema id. Returns `{0}` when there is no execution, else `{1, meta, in, in_s, kind...}`
 * with one kind per entry: 1 recorded, 2 duplicate, 3 stale. The meta JSON is decoded and
 * encoded once per call.
 */
const RECORD_MANY: LuaScript = luaScript(`${TAIL}
local m = redis.call('HGET', KEYS[1], 'meta')
if not m then return {0} end
local s = cjson.decode(m)
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local kinds = {}
local changed = false
for j = 3, #ARGV, 5 do
  local kind = 3
  if s.status == 'RUNNING' and tonumber(s.stage) == tonumber(ARGV[j]) then
    local slot = ARGV[j] .. ':' .. ARGV[j + 1]
    if redis.call('HEXISTS', KEYS[1], 'o:' .. slot) == 1 or redis.call('HEXISTS', KEYS[1], 'f:' .. slot) == 1 then
      kind = 2
    else
      if ARGV[j + 2] == 'o' then
        redis.call('HSET', KEYS[1], 'o:' .. slot, ARGV[j + 3], 's:' .. slot, ARGV[j + 4])
      else
        redis.call('HSET', KEYS[1], 'f:' .. slot, '1')
        if type(s.failures) ~= 'table' then s.failures = {} end
        if #s.failures < limit then s.failures[#s.failures + 1] = cjson.decode(ARGV[j + 3]) end
      end
      s.recorded = tonumber(s.recorded) + 1
      s.version = tonumber(s.version) + 1
      s.updatedAtMs = now
      changed = true
      kind = 1
    end
  end
  kinds[#kinds + 1] = kind
end
if changed then
  m = cjson.encode(s)
  redis.call('HSET', KEYS[1], 'meta', m)
end
local r = out(1, m)
for i = 1, #kinds do r[4 + i] = kinds[i] end
return r
`);

/** KEYS[1] hash; ARGV [1] expected version, [2] new meta JSON, [3] TTL ms or 0. Codes: 0 missing, 1 updated, 2 version mismatch. */
const UPDATE: LuaScript = luaScript(`${TAIL}
local m = redis.call('HGET', KEYS[1], 'meta')
if not m then return {0} end
if tonumber(cjson.decode(m).version) ~= tonumber(ARGV[1]) then return out(2, m) end
redis.call('HSET', KEYS[1], 'meta', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return out(1, ARGV[2])
`);

/**
 * A {@link WorkflowStore} in Redis: one HASH per execution, `<prefix>:{<executionId>}:workflow`,
 * with fields `meta` (the state as JSON, without the input), `in` / `in_s` (the input bytes and
 * schema id), and per recorded item `o:<stage>:<index>` / `s:<stage>:<index>` (output bytes and
 * schema id) or `f:<stage>:<index>` (a failure). `record` and `update` are Lua scripts: the
 * idempotent record (`HEXISTS` on the slot) and the compare-and-set on `version` are atomic. The
 * hash gets a TTL of `retentionMs` when the execution ends.
 */
export class RedisWorkflowStore implements WorkflowStore {
  readonly name = 'redis';
  readonly prefix: string;
  readonly client: RedisClientLike;
  readonly retentionMs: number;
  private readonly owned: boolean;

  constructor(options: RedisWorkflowStoreOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    const { client, owned } = clientFor(options.redis);
    this.client = client;
    this.owned = owned;
    this.retentionMs = options.retentionMs ?? DEFAULT_WORKFLOW_RETENTION_MS;
  }

  /** Connects a client the store created. */
  async init(): Promise<void> {
    if (this.owned) await connectOwned(this.client);
  }

  /** Closes a client the store created; never one it was given. */
  async close(): Promise<void> {
    if (this.owned) await quitClient(this.client);
  }

  /** {@inheritDoc WorkflowStore.create} */
  async create(init: NewWorkflow): Promise<{ created: boolean; state: WorkflowState }> {
    const meta: WorkflowMeta = {
      executionId: init.executionId, flow: init.flow, status: 'RUNNING', stage: 0, sizes: [1], recorded: 0,
      startKey: init.startKey, failures: [], version: 1, createdAtMs: init.nowMs, updatedAtMs: init.nowMs,
    };
    const r = await this.run(CREATE, init.executionId, [JSON.stringify(meta), init.input.bytes, init.input.schemaId]);
    if (r === 1) return { created: true, state: { ...meta, input: { bytes: Buffer.from(init.input.bytes), schemaId: init.input.schemaId } } };
    return { created: false, state: stateOf(r as Buffer[])! };
  }

  /** {@inheritDoc WorkflowStore.get} */
  async get(executionId: string): Promise<WorkflowState | undefined> {
    const [meta, input, schemaId] = await this.client.hmgetBuffer(workflowKey(this.prefix, executionId), 'meta', 'in', 'in_s');
    return meta ? toState(meta, input, schemaId) : undefined;
  }

  /** {@inheritDoc WorkflowStore.recordMany} One `RECORD_MANY` call. */
  async recordMany(executionId: string, entries: readonly WorkflowRecord[]): Promise<RecordManyOutcome> {
    for (const e of entries) checkRecord(executionId, e);
    const args: (string | Buffer)[] = [String(entries[0]?.nowMs ?? Date.now()), String(WORKFLOW_FAILURES_LIMIT)];
    for (const e of entries) {
      args.push(String(e.stage), String(e.index), e.output ? 'o' : 'f', e.output ? e.output.bytes : JSON.stringify(e.failure), e.output?.schemaId ?? '');
    }
    const r = await this.run(RECORD_MANY, executionId, args) as (Buffer | number | null)[];
    if (Number(r[0]) === 0) return { kinds: entries.map(() => 'missing' as const), state: undefined };
    const kinds = entries.map((_, i) => {
      const k = Number(r[4 + i]);
      return k === 1 ? 'recorded' as const : k === 2 ? 'duplicate' as const : 'stale' as const;
    });
    return { kinds, state: stateOf(r) };
  }

  /** {@inheritDoc WorkflowStore.outputs} */
  async outputs(executionId: string, stage: number, count: number): Promise<(StoredOutput | undefined)[]> {
    if (count <= 0) return [];
    const fields: string[] = [];
    for (let i = 0; i < count; i++) fields.push(`o:${stage}:${i}`, `s:${stage}:${i}`);
    const values = await this.client.hmgetBuffer(workflowKey(this.prefix, executionId), ...fields);
    return Array.from({ length: count }, (_, i) => {
      const bytes = values[2 * i];
      const schemaId = values[2 * i + 1];
      return bytes && schemaId ? { bytes, schemaId: schemaId.toString('utf8') } : undefined;
    });
  }

  /** {@inheritDoc WorkflowStore.update} */
  async update(executionId: string, expectedVersion: number, change: WorkflowChange): Promise<UpdateOutcome> {
    checkChange(change);
    const current = await this.get(executionId);
    if (!current || current.version !== expectedVersion) return { ok: false, current };
    const next = applyChange(current, change);
    const { input: _input, ...meta } = next;
    const ttl = isTerminalStatus(next.status) ? this.retentionMs : 0;
    const r = await this.run(UPDATE, executionId, [String(expectedVersion), JSON.stringify(meta), String(ttl)]) as Buffer[];
    const code = Number(r[0]);
    if (code === 1) return { ok: true, state: next };
    return { ok: false, current: code === 0 ? undefined : stateOf(r) };
  }

  /** {@inheritDoc WorkflowStore.delete} */
  async delete(executionId: string): Promise<boolean> {
    return (await this.client.del(workflowKey(this.prefix, executionId))) === 1;
  }

  private run(s: LuaScript, executionId: string, args: (string | Buffer)[]): Promise<unknown> {
    return evalScript(this.client, s, [workflowKey(this.prefix, executionId)], args);
  }
}

function stateOf(r: readonly (Buffer | number | null)[]): WorkflowState | undefined {
  const [, meta, input, schemaId] = r;
  return Buffer.isBuffer(meta) ? toState(meta, input as Buffer | null, schemaId as Buffer | null) : undefined;
}

function toState(meta: Buffer, input: Buffer | null | undefined, schemaId: Buffer | null | undefined): WorkflowState {
  return { ...parseMeta(meta.toString('utf8')), input: { bytes: input ?? Buffer.alloc(0), schemaId: schemaId?.toString('utf8') ?? '' } };
}
