import {
  checkDispatchKey, checkScanRequest, checkTransition, decodeScanCursor, DispatchState, DISPATCH_HISTORY_LIMIT,
  encodeScanCursor, isDispatchState, isTerminalState, newRecordFrom,
} from '../../core/dispatch';
import type {
  CreateDispatchResult, DispatchFailure, DispatchHistoryEntry, DispatchKey, DispatchRecord, DispatchScanPage,
  DispatchScanRequest, DispatchStore, DispatchTransition, NewDispatchRecord, TransitionDispatchResult,
} from '../../core/dispatch';
import { CREATE, DELETE, TRANSITION, type DispatchLuaScript } from './dispatch-scripts';
import { evalScript } from './lua';
import { DEFAULT_PREFIX } from './schema-store';
import { clientFor, connectOwned, quitClient, type RedisClientLike, type RedisConnection } from './connection';

/** Options of {@link RedisDispatchStore}. */
export interface RedisDispatchStoreOptions {
  /**
   * Where to connect. A URL string or ioredis options: the store creates the client and closes it
   * in `close()`. An existing ioredis client (`Redis` or `Cluster`): the store uses it and never
   * closes it. Default `redis://127.0.0.1:6379`.
   */
  readonly redis?: RedisConnection;
  /** Key prefix. Default `weft`. Must not contain `{` or `}`. */
  readonly prefix?: string;
  /**
   * How long a record is kept once terminal (`ACKED`, `FAILED_FINAL`), ms: the window in which a
   * duplicate submit is recognised and answered with the stored outcome. `0` keeps records until
   * they are deleted. Default {@link DEFAULT_DISPATCH_RETENTION_MS} (7 days).
   */
  readonly retentionMs?: number;
}

/** Default {@link RedisDispatchStoreOptions.retentionMs}: 7 days. */
export const DEFAULT_DISPATCH_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** Hash field names of a record. */
const F = {
  executionId: 'execution_id',
  stepId: 'step_id',
  idempotencyKey: 'idempotency_key',
  state: 'state',
  attempt: 'attempt',
  correlationId: 'correlation_id',
  deadlineMs: 'deadline_ms',
  createdAtMs: 'created_at_ms',
  updatedAtMs: 'updated_at_ms',
  transitionCount: 'transition_count',
  lastError: 'last_error',
  resultBytes: 'result_bytes',
  resultSchemaId: 'result_schema_id',
  resultType: 'result_type',
  queue: 'queue',
  messageId: 'entry_id',
} as const;
/** Field-name prefixes: history entries, string envelope fields, Buffer envelope fields. */
const HISTORY = 'h:';
const ENV_STRING = 'e:s:';
const ENV_BYTES = 'e:b:';

const NEEDS_ESCAPE = /[%:{}]/;

/**
 * Escapes a key part so that the record key is unambiguous and its hash tag is exactly the
 * execution id: `%` -> `%25`, `:` -> `%3A`, `{` -> `%7B`, `}` -> `%7D`. Everything else is kept.
 */
export function escapeKeyPart(part: string): string {
  if (!NEEDS_ESCAPE.test(part)) return part; // the common case (hex ids, plain names): no copy
  return part.replace(/[%:{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** The HASH key of one record: `<prefix>:{<executionId>}:dispatch:<stepId>:<idempotencyKey>`, parts escaped. */
export function dispatchRecordKey(prefix: string, key: DispatchKey): string {
  return `${prefix}:{${escapeKeyPart(key.executionId)}}:dispatch:${escapeKeyPart(key.stepId)}:${escapeKeyPart(key.idempotencyKey)}`;
}

/** The ZSET key of a prefix's non-terminal records: `<prefix>:dispatch:open`. */
export function dispatchIndexKey(prefix: string): string {
  return `${prefix}:dispatch:open`;
}

/** Compares two strings by their UTF-8 bytes, the order Redis gives members of equal score. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * A {@link DispatchStore} in Redis.
 *
 * @remarks
 * Key layout (`<prefix>` defaults to `weft`; key parts are escaped with {@link escapeKeyPart}):
 * - `<prefix>:{<executionId>}:dispatch:<stepId>:<idempotencyKey>`: HASH, one per record. Fields
 *   `execution_id`, `step_id`, `idempotency_key`, `state`, `attempt`, `correlation_id`,
 *   `deadline_ms` (absent without a deadline), `created_at_ms`, `updated_at_ms`,
 *   `transition_count`, `last_error` (JSON `{code, message, stack?}`), `result_bytes`,
 *   `result_schema_id`, `result_type` (after an `ACKED` with a result), `h:<n>` (history entry n
 *   as JSON `{atMs, from, to, attempt, error?}`; only the newest 50 are kept), and the envelope as
 *   `e:s:<name>` (string values) and `e:b:<name>` (Buffer values), so that each value comes back
 *   with its kind.
 * - `<prefix>:dispatch:open`: ZSET of the keys of non-terminal records, scored by `updated_at_ms`.
 *   `scan` walks it; a record leaves it in the same script that makes it terminal.
 *
 * `create`, `transition` and `delete` are each one Lua script (`EVALSHA`, with `EVAL` on
 * `NOSCRIPT`) over the record hash and the index, so each is atomic.
 *
 * Redis Cluster: every key of one execution shares the `{<executionId>}` hash tag, but the index
 * is one key per prefix, so the scripts touch two slots and Cluster refuses them (`CROSSSLOT`).
 * The store is for a standalone Redis (or Sentinel) until the index is sharded per slot.
 */
export class RedisDispatchStore implements DispatchStore {
  /** Always `redis`. */
  readonly name = 'redis';
  /** The key prefix in use. */
  readonly prefix: string;
  /** The client the store talks through. */
  readonly client: RedisClientLike;
  private readonly owned: boolean;
  private readonly indexKey: string;
  /** See {@link RedisDispatchStoreOptions.retentionMs}. */
  readonly retentionMs: number;

  constructor(options: RedisDispatchStoreOptions = {}) {
    this.retentionMs = options.retentionMs ?? DEFAULT_DISPATCH_RETENTION_MS;
    if (!Number.isSafeInteger(this.retentionMs) || this.retentionMs < 0) {
      throw new TypeError(`RedisDispatchStore: retentionMs must be a non-negative integer (ms), got ${String(options.retentionMs)}`);
    }
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!this.prefix || /[{}]/.test(this.prefix)) throw new TypeError('RedisDispatchStore: prefix must be non-empty and contain no braces');
    this.indexKey = dispatchIndexKey(this.prefix);
    ({ client: this.client, owned: this.owned } = clientFor(options.redis));
  }

  /** The HASH key of a record under this store's prefix. */
  recordKey(key: DispatchKey): string {
    return dispatchRecordKey(this.prefix, key);
  }

  /** Connects a client the store created; a no-op for a client it was given. */
  async init(): Promise<void> {
    if (this.owned) await connectOwned(this.client);
  }

  /** Closes the client when the store created it; a client it was given stays open. */
  async close(): Promise<void> {
    if (this.owned) await quitClient(this.client);
  }

  /** {@inheritDoc DispatchStore.create} */
  async create(input: NewDispatchRecord): Promise<CreateDispatchResult> {
    const record = newRecordFrom(input);
    const args: (string | Buffer | number)[] = [
      record.createdAtMs,
      F.executionId, record.executionId, F.stepId, record.stepId, F.idempotencyKey, record.idempotencyKey,
      F.state, record.state, F.attempt, record.attempt, F.correlationId, record.correlationId,
      F.createdAtMs, record.createdAtMs, F.updatedAtMs, record.updatedAtMs, F.transitionCount, 0,
    ];
    if (record.deadlineMs !== undefined) args.push(F.deadlineMs, record.deadlineMs);
    if (record.queue !== undefined) args.push(F.queue, record.queue);
    for (const [name, value] of Object.entries(record.envelope)) {
      if (typeof value === 'string') args.push(ENV_STRING + name, value);
      else args.push(ENV_BYTES + name, value);
    }
    const reply = await this.run(CREATE, [this.recordKey(record), this.indexKey], args);
    if (reply === 1) return { created: true, record };
    const existing = decodeRecord(reply as Buffer[]);
    if (!existing) throw new Error(`RedisDispatchStore: unreadable record at ${this.recordKey(record)}`);
    return { created: false, record: existing };
  }

  /** {@inheritDoc DispatchStore.transition} */
  async transition(key: DispatchKey, change: DispatchTransition): Promise<TransitionDispatchResult> {
    const c = checkTransition(key, change);
    const reply = await this.run(TRANSITION, [this.recordKey(key), this.indexKey], [
      c.from, c.to, c.nowMs, c.attempt ?? '', isTerminalState(c.to) ? '1' : '0', DISPATCH_HISTORY_LIMIT,
      c.error ? JSON.stringify(c.error) : '',
      c.result ? '1' : '0', c.result?.bytes ?? '', c.result?.schemaId ?? '', c.result?.type ?? '', this.retentionMs,
    ]) as [number, Buffer[]?];
    const [code, hash] = reply;
    if (code === 0) return { ok: false, current: undefined };
    const record = decodeRecord(hash ?? []);
    if (!record) throw new Error(`RedisDispatchStore: unreadable record at ${this.recordKey(key)}`);
    return code === 2 ? { ok: true, record } : { ok: false, current: record };
  }

  /** {@inheritDoc DispatchStore.get} */
  async get(key: DispatchKey): Promise<DispatchRecord | undefined> {
    checkDispatchKey(key);
    const hash = await this.client.hgetallBuffer(this.recordKey(key));
    return decodeRecord(flatten(hash));
  }

  /** {@inheritDoc DispatchStore.scan} */
  async scan(request?: DispatchScanRequest): Promise<DispatchScanPage> {
    const req = checkScanRequest(request);
    let after = req.cursor === undefined ? undefined : decodeScanCursor(req.cursor);
    const max = Number.isFinite(req.olderThanMs) ? `(${req.olderThanMs}` : '+inf';
    // The read position: entries with score `posScore` already examined number `offset`.
    let posScore = after?.score;
    let offset = 0;
    const records: DispatchRecord[] = [];
    const budget = req.limit * 10;
    let examined = 0;
    let moved = false; // whether `after` has moved past the request's cursor
    for (;;) {
      const want = req.limit - records.length;
      const flat = await this.client.zrangebyscore(this.indexKey, posScore === undefined ? '-inf' : posScore, max,
        'WITHSCORES', 'LIMIT', offset, want);
      const batch: { member: string; score: number }[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) batch.push({ member: flat[i]!, score: Number(flat[i + 1]) });
      const fresh = batch.map((e) => !after || e.score > after.score || (e.score === after.score && compareBytes(e.member, after.member) > 0));
      // Index members are full key names: with an ioredis keyPrefix they already carry it, and the
      // client would add it again, so it is taken off first.
      const kp = (this.client.options as { keyPrefix?: string }).keyPrefix ?? '';
      const own = (m: string): string => (kp && m.startsWith(kp) ? m.slice(kp.length) : m);
      const hashes = await Promise.all(batch.map((e, i) => (fresh[i] ? this.client.hgetallBuffer(own(e.member)) : undefined)));
      for (const [i, e] of batch.entries()) {
        examined++;
        if (e.score === posScore) offset++;
        else { posScore = e.score; offset = 1; }
        if (!fresh[i]) continue;
        after = { score: e.score, member: e.member };
        moved = true;
        const r = hashes[i] && decodeRecord(flatten(hashes[i]!));
        if (r && !isTerminalState(r.state) && req.states.has(r.state) && r.updatedAtMs < req.olderThanMs) {
          records.push(r);
          if (records.length === req.limit) return { records, cursor: encodeScanCursor(e.score, e.member) };
        }
      }
      if (batch.length < want) return { records };
      if (examined >= budget && moved && after) return { records, cursor: encodeScanCursor(after.score, after.member) };
    }
  }

  /** {@inheritDoc DispatchStore.delete} */
  async delete(key: DispatchKey): Promise<boolean> {
    checkDispatchKey(key);
    return (await this.run(DELETE, [this.recordKey(key), this.indexKey], [])) === 1;
  }

  private run(s: DispatchLuaScript, keys: string[], args: (string | Buffer | number)[]): Promise<unknown> {
    return evalScript(this.client, s, keys, args);
  }
}

function flatten(hash: Record<string, Buffer>): Buffer[] {
  const out: Buffer[] = [];
  for (const [k, v] of Object.entries(hash)) out.push(Buffer.from(k, 'utf8'), v);
  return out;
}

/** Turns a flat `HGETALL` reply into a record; `undefined` for an empty hash. */
export function decodeRecord(flat: readonly Buffer[]): DispatchRecord | undefined {
  if (flat.length === 0) return undefined;
  const f = new Map<string, Buffer>();
  const envelope: Record<string, string | Buffer> = {};
  const history: [number, DispatchHistoryEntry][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!.toString('utf8');
    const value = flat[i + 1]!;
    if (name.startsWith(ENV_STRING)) envelope[name.slice(ENV_STRING.length)] = value.toString('utf8');
    else if (name.startsWith(ENV_BYTES)) envelope[name.slice(ENV_BYTES.length)] = Buffer.from(value);
    else if (name.startsWith(HISTORY)) history.push([Number(name.slice(HISTORY.length)), JSON.parse(value.toString('utf8')) as DispatchHistoryEntry]);
    else f.set(name, value);
  }
  const str = (field: string): string | undefined => f.get(field)?.toString('utf8');
  const num = (field: string): number | undefined => {
    const s = str(field);
    return s === undefined ? undefined : Number(s);
  };
  const state = str(F.state);
  if (!isDispatchState(state)) return undefined;
  history.sort((a, b) => a[0] - b[0]);
  const deadlineMs = num(F.deadlineMs);
  const lastError = str(F.lastError);
  const resultBytes = f.get(F.resultBytes);
  const queue = str(F.queue);
  const messageId = str(F.messageId);
  return {
    executionId: str(F.executionId) ?? '',
    stepId: str(F.stepId) ?? '',
    idempotencyKey: str(F.idempotencyKey) ?? '',
    state: state as DispatchState,
    attempt: num(F.attempt) ?? 0,
    correlationId: str(F.correlationId) ?? '',
    ...(deadlineMs === undefined ? {} : { deadlineMs }),
    createdAtMs: num(F.createdAtMs) ?? 0,
    updatedAtMs: num(F.updatedAtMs) ?? 0,
    envelope,
    ...(resultBytes === undefined ? {} : {
      result: { bytes: Buffer.from(resultBytes), schemaId: str(F.resultSchemaId) ?? '', type: str(F.resultType) ?? '' },
    }),
    ...(lastError === undefined ? {} : { lastError: JSON.parse(lastError) as DispatchFailure }),
    history: history.map(([, h]) => h),
    transitionCount: num(F.transitionCount) ?? 0,
    ...(queue === undefined ? {} : { queue }),
    ...(messageId === undefined ? {} : { messageId }),
  };
}
