import {
  TransportError,
  type ConsumeOptions,
  type DeadLetter,
  type DeadLetterReason,
  type DeadLettersOptions,
  type Delivery,
  type Fields,
  type Outgoing,
  type ReclaimOptions,
  type Transport,
} from '../../core/runtime/transport';
import { DEFAULT_PREFIX } from './schema-store';
import { clientFor, quitClient, type RedisClientLike, type RedisConnection } from './connection';
import { deadLetterKey, keySlot, streamKey } from './streams-keys';
import { BlockerPool } from './blocker-pool';
import { EncodedCommand, RespWriter } from './resp';
import { asRecord, entriesOfRead, str } from './replies';
import { ACK_FOLLOW, PUBLISH, READ_PACKED, RECLAIM, TOUCH, type LuaScript } from './streams-scripts';

/** Default approximate `MAXLEN` of a queue's stream (see {@link RedisStreamsTransportOptions.maxLen}). */
export const DEFAULT_MAX_LEN = 1_000_000;
/** Default approximate `MAXLEN` of a dead-letter stream. */
export const DEFAULT_DEAD_LETTER_MAX_LEN = 100_000;
/** Field-name prefix reserved for the dead-letter reason fields. */
export const DEAD_LETTER_FIELD_PREFIX = 'dlq_';

/** Dead-letter entry field names (beyond the original message's fields). */
export const DeadLetterField = {
  /** The reason's error code, e.g. `WEFT_SCHEMA_NOT_FOUND`. */
  CODE: 'dlq_code',
  /** The reason's message. */
  MESSAGE: 'dlq_message',
  /** The message's entry id in its queue's stream. */
  ORIGINAL_ID: 'dlq_original_id',
  /** When it was dead-lettered, epoch ms (decimal). */
  AT_MS: 'dlq_at_ms',
  /** Prefix of one field per reason detail: `dlq_detail_<name>`. */
  DETAIL_PREFIX: 'dlq_detail_',
} as const;

/** A complete stream entry id, `<ms>-<seq>`. */
const STREAM_ID = /^\d+-\d+$/;
/** Most idle blocking connections kept for reuse; more concurrent blocking reads open more. */
const MAX_IDLE_BLOCKERS = 8;
/** Most `XAUTOCLAIM` rounds one `reclaim` call runs server-side (bounds the script's run time). */
const RECLAIM_ROUNDS = 16;
/** Most messages one `PUBLISH` script call adds: bounds how long one call holds Redis (about 1 ms). */
const PUBLISH_CHUNK = 250;

/** Options of {@link RedisStreamsTransport}. */
export interface RedisStreamsTransportOptions {
  /**
   * Where to connect. Default `redis://127.0.0.1:6379`.
   *
   * - A URL string: `redis://[user:password@]host:port[/db]`, or `rediss://...` for TLS.
   * - ioredis {@link RedisOptions}: e.g. `{ host, port, username, password, tls: { ca, cert, key,
   *   servername, rejectUnauthorized } }`. `username` + `password` authenticate as a Redis 6+ ACL
   *   user; `password` alone authenticates as `default`. `tls` is passed to Node's `tls.connect`
   *   unchanged.
   *
   * With a URL or options, the transport creates its client and closes it in `close()`.
   * - An existing ioredis client (`Redis` or `Cluster`): the transport uses it and never closes
   *   it. Its settings (TLS, ACL user, RESP version) are the caller's.
   *
   * Either way, blocking reads run on connections the transport opens with `duplicate()` of the
   * client (a connection blocked in `XREADGROUP BLOCK` cannot serve other commands) and closes
   * itself. If the client has a `commandTimeout`, keep it above the longest `blockMs`.
   */
  readonly redis?: RedisConnection;
  /** Key prefix. Default `weft`. Producers and consumers must agree on it. */
  readonly prefix?: string;
  /**
   * Retention of a queue's stream: every `XADD` carries `MAXLEN ~ maxLen`, so Redis trims the
   * oldest entries (in whole macro nodes, so the length can exceed this a little). Acked entries are
   * not deleted one by one; trimming removes them. Entries still unacknowledged when trimmed are
   * lost, so size this above the largest backlog you expect. `0` disables trimming.
   * Default {@link DEFAULT_MAX_LEN} (1,000,000).
   */
  readonly maxLen?: number;
  /** Retention of a dead-letter stream (`MAXLEN ~`). `0` disables trimming. Default 100,000. */
  readonly deadLetterMaxLen?: number;
  /**
   * Which field values are delivered as Buffers. Redis does not record whether a value was written
   * as a string or as bytes, so by default (`'all'`) every value comes back as a Buffer of its
   * exact bytes: a Buffer published is a Buffer delivered (what the transport conformance suite
   * requires), and a string published arrives as its UTF-8 bytes (`core/tasks/wire.ts` reads both).
   * A list of names delivers only those fields as Buffers and decodes every other value as UTF-8
   * into a string, e.g. `['payload']` for wire-contract messages. Values are always written byte
   * for byte, whatever their type.
   */
  readonly binaryFields?: readonly string[] | 'all';
}

type Cmd = [command: string, ...args: (string | Buffer | number)[]];

/**
 * Reads the MessagePack that `cmsgpack.pack` makes of a stream read: arrays and strings only.
 * Strings are returned as `[start, end)` offsets into the buffer, so values are never copied.
 */
class MsgpackReader {
  private o = 0;
  constructor(private readonly b: Buffer) {}

  malformed(): TransportError {
    return new TransportError(`redis-streams consume: malformed packed read reply at byte ${this.o}`);
  }

  array(): number {
    const b = this.b;
    if (this.o >= b.length) throw this.malformed();
    const t = b[this.o++]!;
    if (t >= 0x90 && t <= 0x9f) return t & 0x0f;
    if (t === 0xdc) return this.len(2);
    if (t === 0xdd) return this.len(4);
    this.o--;
    throw this.malformed();
  }

  str(): [number, number] {
    const b = this.b;
    if (this.o >= b.length) throw this.malformed();
    const t = b[this.o++]!;
    let n: number;
    if (t >= 0xa0 && t <= 0xbf) n = t & 0x1f;
    else if (t === 0xd9 || t === 0xc4) n = this.len(1);
    else if (t === 0xda || t === 0xc5) n = this.len(2);
    else if (t === 0xdb || t === 0xc6) n = this.len(4);
    else {
      this.o--;
      throw this.malformed();
    }
    const start = this.o;
    this.o += n;
    if (this.o > b.length) throw this.malformed();
    return [start, this.o];
  }

  private len(bytes: 1 | 2 | 4): number {
    const b = this.b;
    if (this.o + bytes > b.length) throw this.malformed();
    const v = bytes === 1 ? b[this.o]! : bytes === 2 ? b.readUInt16BE(this.o) : b.readUInt32BE(this.o);
    this.o += bytes;
    return v;
  }
}

/** A plain command whose key is its first argument (XADD, XACK), hand-encoded. */
function encoded(c: Cmd): EncodedCommand {
  const w = new RespWriter(c.length, 512);
  for (const a of c) w.bulk(a);
  return new EncodedCommand(c[0].toLowerCase(), [c[1] as string], w.finish());
}

/** One call of a Lua script, written by {@link RespWriter}: its keys, then `argc` arguments. */
export interface ScriptCall {
  readonly keys: readonly string[];
  readonly argc: number;
  /** Expected size of the encoded command, bytes (the writer grows past it when needed). */
  readonly sizeHint: number;
  write(w: RespWriter): void;
}

/** Splits an encoded command back into arguments (only for clients with a `keyPrefix`, which must prefix the keys itself). */
function decodeCommand(b: Buffer): [string, ...Buffer[]] {
  const args: Buffer[] = [];
  let o = b.indexOf(10) + 1;
  while (o < b.length) {
    const eol = b.indexOf(13, o);
    const n = Number(b.toString('latin1', o + 1, eol));
    args.push(b.subarray(eol + 2, eol + 2 + n));
    o = eol + 2 + n + 2;
  }
  return [args[0]!.toString('latin1'), ...args.slice(1)];
}

/**
 * The `XTRIM MINID` threshold that deletes every entry up to the newest of `ids` (inclusive): the
 * id right after it. Ids that are not `<ms>-<seq>` are ignored; `''` when none is.
 */
export function trimThreshold(ids: readonly string[]): string {
  let ms = -1n;
  let seq = -1n;
  for (const id of ids) {
    const m = /^(\d+)-(\d+)$/.exec(id);
    if (!m) continue;
    const a = BigInt(m[1]!);
    const b = BigInt(m[2]!);
    if (a > ms || (a === ms && b > seq)) {
      ms = a;
      seq = b;
    }
  }
  if (ms < 0n) return '';
  return seq >= 0xffffffffffffffffn ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

/**
 * The fields of a dead letter: the delivery's own fields (minus `dlq_` fields of an earlier dead
 * letter), then the reason as `dlq_code`, `dlq_message`, `dlq_original_id`, `dlq_at_ms` and one
 * `dlq_detail_<name>` per diagnostic.
 */
export function deadLetterEntry(delivery: Delivery, reason: DeadLetterReason, nowMs: number): Record<string, string | Buffer> {
  const fields: Record<string, string | Buffer> = {};
  for (const name of Object.keys(delivery.fields)) {
    if (!name.startsWith(DEAD_LETTER_FIELD_PREFIX)) fields[name] = delivery.fields[name]!;
  }
  fields[DeadLetterField.CODE] = reason.code;
  fields[DeadLetterField.MESSAGE] = reason.message;
  fields[DeadLetterField.ORIGINAL_ID] = delivery.id;
  fields[DeadLetterField.AT_MS] = String(nowMs);
  for (const [k, v] of Object.entries(reason.details ?? {})) fields[DeadLetterField.DETAIL_PREFIX + k] = v;
  return fields;
}

/** The field names every message has, in the same order; `undefined` when they differ. */
export function sharedNames(messages: readonly Fields[]): string[] | undefined {
  const names = Object.keys(messages[0]!);
  if (names.length === 0) return undefined;
  for (let i = 1; i < messages.length; i++) {
    const m = messages[i]!;
    let k = 0;
    for (const n in m) {
      if (names[k++] !== n) return undefined;
    }
    if (k !== names.length) return undefined;
  }
  return names;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The group or its stream does not exist (deleted under us), or a blocked read lost its key. */
function isMissingGroup(e: unknown): boolean {
  const m = errorText(e);
  return m.startsWith('NOGROUP') || m.startsWith('UNBLOCKED') || m.includes('NOGROUP');
}

function failure(op: string, e: unknown): TransportError {
  if (e instanceof TransportError) return e;
  return new TransportError(`redis-streams ${op} failed: ${errorText(e)}`, { cause: e });
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

function nonNegativeInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`${name} must be a non-negative integer, got ${v}`);
  return v;
}

/**
 * The Redis Streams {@link Transport}: one stream per queue, consumer groups, `XAUTOCLAIM`
 * redelivery, and a dead-letter stream per queue. Follows the wire contract (ARCHITECTURE.md).
 *
 * @remarks
 * Key layout (`<prefix>` defaults to `weft`; both keys of a queue share the `{<queue>}` hash tag,
 * so they live in one Redis Cluster slot and can be written in one `MULTI`):
 * - `<prefix>:{<queue>}:stream`: the queue. One entry per message, its fields as given.
 * - `<prefix>:{<queue>}:dlq`: its dead letters: the original fields plus `dlq_code`,
 *   `dlq_message`, `dlq_original_id`, `dlq_at_ms` and one `dlq_detail_<name>` per detail.
 *
 * Round trips: `publish` 1 (a pipeline of `XADD`s), `consume` 1 (2 more once, when the group
 * must be created), `ack` 1 (a pipeline of the follow-up `XADD`s then `XACK`; on a Cluster, one
 * per slot, the follow-ups in other slots first), `deadLetter` 1 (`MULTI XADD XACK EXEC`),
 * `reclaim` 1 and `touch` 1 (Lua), `backlog` 1 (a pipeline of `XLEN` and `XINFO GROUPS`),
 * `deadLetters` 1 and `findDeadLetter` 1 (`XRANGE`), `removeDeadLetters` 1 (`XDEL`),
 * `purgeDeadLetters` 1 (`MULTI XLEN DEL EXEC`). See docs/redis-streams.md.
 */
export class RedisStreamsTransport implements Transport {
  /** Always `redis-streams`. */
  readonly name = 'redis-streams';
  /** The key prefix in use. */
  readonly prefix: string;
  /** The client non-blocking commands go through (the one passed in, or the one created). */
  readonly client: RedisClientLike;
  /** Approximate `MAXLEN` of queue streams (0 = no trimming). */
  readonly maxLen: number;
  /** Approximate `MAXLEN` of dead-letter streams (0 = no trimming). */
  readonly deadLetterMaxLen: number;

  private readonly owned: boolean;
  /**
   * Whether commands are written by `RespWriter` (see `resp.ts`). Not for a client with an ioredis
   * `keyPrefix`: ioredis must see the arguments to prefix the keys.
   */
  private readonly handEncoded: boolean;
  private readonly allBinary: boolean;
  private readonly binary: ReadonlySet<string>;
  private readonly blockers: BlockerPool;
  private readonly reclaimCursors = new Map<string, string>();
  /** Consumers whose last read was full: their next read is packed and non-blocking. */
  private readonly backlogged = new Set<string>();
  /** The field names of the last entry parsed, as Buffers and strings: names repeat, so reuse them. */
  private lastNames: Buffer[] = [];
  private lastNameStrings: string[] = [];
  private closed = false;

  constructor(options: RedisStreamsTransportOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!this.prefix) throw new TypeError('RedisStreamsTransport: prefix must not be empty');
    this.maxLen = nonNegativeInt('maxLen', options.maxLen ?? DEFAULT_MAX_LEN);
    this.deadLetterMaxLen = nonNegativeInt('deadLetterMaxLen', options.deadLetterMaxLen ?? DEFAULT_DEAD_LETTER_MAX_LEN);
    const bin = options.binaryFields ?? 'all';
    this.allBinary = bin === 'all';
    this.binary = new Set(bin === 'all' ? [] : bin);
    ({ client: this.client, owned: this.owned } = clientFor(options.redis));
    this.handEncoded = !(this.client.options as { keyPrefix?: string }).keyPrefix;
    if (this.owned) this.client.on('error', () => { /* surfaced by the failing command */ });
    this.blockers = new BlockerPool(this.client, MAX_IDLE_BLOCKERS);
  }

  /** The keys of a queue: its stream and its dead-letter stream. */
  keys(queue: string): { readonly stream: string; readonly deadLetters: string } {
    return { stream: streamKey(this.prefix, queue), deadLetters: deadLetterKey(this.prefix, queue) };
  }

  /** Connects a client the transport created; a no-op for a client it was given. */
  async init(): Promise<void> {
    this.assertOpen();
    if (this.owned && this.client.status === 'wait') {
      // connect() may reject with a bare "Connection is closed"; the 'error' event says why (WRONGPASS, TLS...).
      let cause: unknown;
      const onError = (e: unknown): void => { cause ??= e; };
      this.client.on('error', onError);
      try {
        await this.client.connect();
      } catch (e) {
        throw failure('connect', cause ?? e);
      } finally {
        this.client.off('error', onError);
      }
    }
  }

  /**
   * Closes what the transport opened: blocking connections at once (a blocked `consume` returns
   * `[]`), then its own client (`QUIT`, after the replies of commands already sent). A client that
   * was passed in stays open.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.blockers.close();
    if (this.owned) await quitClient(this.client);
  }

  /** {@inheritDoc Transport.publish} */
  async publish(queue: string, messages: readonly Fields[]): Promise<string[]> {
    this.assertOpen();
    if (messages.length === 0) return [];
    const key = streamKey(this.prefix, queue);
    const names = messages.length > 1 ? sharedNames(messages) : undefined;
    const single = names ? undefined : messages.map((m) => this.xadd(key, m, this.maxLen)); // throws on a message without fields
    try {
      if (single || !names) return (await this.run(this.client, single ?? [])).map(str);
      const calls: ScriptCall[] = [];
      for (let i = 0; i < messages.length; i += PUBLISH_CHUNK) {
        const end = Math.min(messages.length, i + PUBLISH_CHUNK);
        const maxLen = this.maxLen;
        calls.push({
          keys: [key],
          argc: 2 + names.length * (1 + end - i),
          sizeHint: 256 + (end - i) * 512,
          write(w) {
            w.bulk(maxLen);
            w.bulk(names.length);
            for (const n of names) w.bulk(n);
            for (let m = i; m < end; m++) {
              const f = messages[m]!;
              for (let k = 0; k < names.length; k++) w.bulk(f[names[k]!]!);
            }
          },
        });
      }
      const out: string[] = [];
      for (const ids of await this.runScripts(PUBLISH, calls)) for (const id of ids as unknown[]) out.push(str(id));
      return out;
    } catch (e) {
      throw failure('publish', e);
    }
  }

  /** {@inheritDoc Transport.consume} */
  async consume(queue: string, options: ConsumeOptions): Promise<Delivery[]> {
    this.assertOpen();
    const count = positiveInt('count', options.count);
    const blockMs = nonNegativeInt('blockMs', options.blockMs);
    const key = streamKey(this.prefix, queue);
    // While a backlog lasts (the last read returned more than one entry), read packed: cheaper to parse, but a script
    // cannot block, so an empty queue goes back to the blocking XREADGROUP below.
    const hint = `${key}\u0000${options.group}\u0000${options.consumer}`;
    let ack = options.ack ?? [];
    const minId = options.trimAcked && ack.length ? trimThreshold(ack) : '';
    if (blockMs === 0 || this.backlogged.has(hint)) {
      const got = await this.readPacked(key, options.group, options.consumer, count, ack, minId, options.expireMs);
      ack = [];
      if (got.length > 1) this.backlogged.add(hint);
      else this.backlogged.delete(hint);
      if (got.length > 0 || blockMs === 0 || this.closed) return got;
    }
    // Here blockMs > 0 (a non-blocking read returned above): a blocking read takes a connection of its own.
    const args = ['GROUP', options.group, options.consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, '>'];
    const conn = this.blockers.acquire();
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          if (ack.length) {
            // The acks go first on the same connection: one write for both commands.
            const acked = ack;
            ack = [];
            // Sent back to back on one connection, without a pipeline object. An XACK error (a group
            // deleted under us) shows in the XREADGROUP result too; otherwise unacknowledged
            // messages are only redelivered later: at-least-once.
            conn.call('XACK', key, options.group, ...acked).catch(() => undefined);
            if (minId) conn.call('XTRIM', key, 'MINID', minId).catch(() => undefined);
          }
          if (options.expireMs) conn.call('PEXPIRE', key, options.expireMs).catch(() => undefined);
          const reply = await conn.callBuffer('XREADGROUP', ...args);
          const got = this.deliveries(entriesOfRead(reply));
          if (got.length > 1) this.backlogged.add(hint);
          return got;
        } catch (e) {
          if (this.closed) return [];
          if (attempt > 0 || !isMissingGroup(e)) throw failure('consume', e);
          await this.createGroup(key, options.group);
        }
      }
    } finally {
      this.blockers.release(conn);
    }
  }

  /**
   * {@inheritDoc Transport.ack}
   *
   * @remarks
   * The follow-up `XADD`s go first and the `XACK` last, so a failure in between leaves the message
   * pending (redelivered, follow-ups published again) rather than acked with its follow-ups lost.
   */
  async ack(queue: string, group: string, ids: readonly string[], follow: readonly Outgoing[] = []): Promise<void> {
    this.assertOpen();
    if (ids.length === 0 && follow.length === 0) return;
    const key = streamKey(this.prefix, queue);
    const xack: Cmd | undefined = ids.length ? ['XACK', key, group, ...ids] : undefined;
    try {
      if (!this.client.isCluster) {
        if (follow.length === 0) {
          await this.run(this.client, [xack!]);
          return;
        }
        // One script: the follow-ups, then the XACK. Its keys may span slots, which only a
        // single Redis allows; a Cluster takes the per-slot path below.
        const keys = [key];
        const index = new Map<string, number>([[key, 1]]);
        const at: number[] = [];
        let argc = 3 + ids.length;
        for (const o of follow) {
          const k = streamKey(this.prefix, o.queue);
          let i = index.get(k);
          if (i === undefined) {
            keys.push(k);
            index.set(k, (i = keys.length));
          }
          at.push(i);
          const n = Object.keys(o.fields).length;
          if (n === 0) throw new TypeError('a message needs at least one field');
          argc += 2 + 2 * n;
        }
        const maxLen = this.maxLen;
        await this.runScripts(ACK_FOLLOW, [{
          keys,
          argc,
          sizeHint: 256 + ids.length * 24 + follow.length * 256,
          write(w) {
            w.bulk(group);
            w.bulk(maxLen);
            w.bulk(ids.length);
            for (const id of ids) w.bulk(id);
            for (let j = 0; j < follow.length; j++) {
              const f = follow[j]!.fields;
              w.bulk(at[j]!);
              let n = 0;
              for (const _ in f) n++;
              w.bulk(n);
              for (const name in f) {
                w.bulk(name);
                w.bulk(f[name]!);
              }
            }
          },
        }]);
        return;
      }
      const ackSlot = keySlot(key);
      const bySlot = new Map<number, Cmd[]>();
      for (const o of follow) {
        const k = streamKey(this.prefix, o.queue);
        const slot = keySlot(k);
        let list = bySlot.get(slot);
        if (!list) bySlot.set(slot, (list = []));
        list.push(this.xadd(k, o.fields, this.maxLen));
      }
      const last = bySlot.get(ackSlot) ?? [];
      bySlot.delete(ackSlot);
      await Promise.all([...bySlot.values()].map((cmds) => this.run(this.client, cmds)));
      if (xack) last.push(xack);
      if (last.length) await this.run(this.client, last);
    } catch (e) {
      throw failure('ack', e);
    }
  }

  /** {@inheritDoc Transport.deadLetter} */
  async deadLetter(queue: string, group: string, delivery: Delivery, reason: DeadLetterReason): Promise<string> {
    this.assertOpen();
    const { stream, deadLetters } = this.keys(queue);
    const fields = deadLetterEntry(delivery, reason, Date.now());
    const tx = this.client.multi();
    tx.call(...this.xadd(deadLetters, fields, this.deadLetterMaxLen));
    tx.call('XACK', stream, group, delivery.id);
    try {
      const res = await tx.exec();
      if (!res) throw new Error('transaction aborted');
      for (const [err] of res) if (err) throw err;
      const id = res[0]![1];
      return Buffer.isBuffer(id) ? id.toString('utf8') : String(id);
    } catch (e) {
      throw failure('deadLetter', e);
    }
  }

  /**
   * {@inheritDoc Transport.reclaim}
   *
   * @remarks
   * One Lua script: `XAUTOCLAIM key group consumer minIdle cursor COUNT n` in a loop until `count`
   * entries are claimed or the pending list has been walked once (at most 16 rounds; the cursor
   * is kept per queue and group, so the next call goes on where this one stopped). Each claimed
   * entry's `deliveryCount` is read from `XPENDING` inside the script, after `XAUTOCLAIM`
   * incremented it. A missing group or stream has nothing to reclaim: `[]`.
   */
  async reclaim(queue: string, options: ReclaimOptions): Promise<Delivery[]> {
    this.assertOpen();
    const count = positiveInt('count', options.count);
    const minIdle = nonNegativeInt('minIdleMs', options.minIdleMs);
    const key = streamKey(this.prefix, queue);
    const cursorKey = `${key}\u0000${options.group}`;
    const cursor = this.reclaimCursors.get(cursorKey) ?? '0-0';
    let reply: unknown;
    try {
      reply = await this.eval(RECLAIM, key, [options.group, options.consumer, minIdle, count, cursor, RECLAIM_ROUNDS]);
    } catch (e) {
      if (isMissingGroup(e)) {
        this.reclaimCursors.delete(cursorKey);
        return [];
      }
      throw failure('reclaim', e);
    }
    const [next, claimed] = reply as [Buffer, [Buffer, Buffer[], number][]];
    const nextCursor = str(next);
    if (nextCursor === '0-0') this.reclaimCursors.delete(cursorKey);
    else this.reclaimCursors.set(cursorKey, nextCursor);
    return claimed.map(([id, flat, deliveries]) => ({ id: str(id), fields: this.fields(flat), deliveryCount: Number(deliveries) }));
  }

  /**
   * {@inheritDoc Transport.touch}
   *
   * @remarks
   * One Lua script: for the ids the consumer still owns, `XCLAIM key group consumer 0 ids... JUSTID`
   * (resets the idle time, keeps the owner, leaves delivery counts alone). Ids that another consumer
   * reclaimed meanwhile, or that were acked, are skipped.
   */
  async touch(queue: string, group: string, consumer: string, ids: readonly string[]): Promise<void> {
    this.assertOpen();
    if (ids.length === 0) return;
    try {
      await this.eval(TOUCH, streamKey(this.prefix, queue), [group, consumer, ...ids]);
    } catch (e) {
      if (isMissingGroup(e)) return;
      throw failure('touch', e);
    }
  }

  /** {@inheritDoc Transport.deadLetters} One `XRANGE` (from `(<after>` with `options.after`). */
  async deadLetters(queue: string, count = 100, options: DeadLettersOptions = {}): Promise<DeadLetter[]> {
    this.assertOpen();
    positiveInt('count', count);
    const from = options.after === undefined ? '-' : `(${options.after}`;
    let reply: unknown;
    try {
      reply = await this.client.callBuffer('XRANGE', deadLetterKey(this.prefix, queue), from, '+', 'COUNT', count);
    } catch (e) {
      throw failure('deadLetters', e);
    }
    const out: DeadLetter[] = [];
    for (const [id, flat] of reply as [Buffer, Buffer[] | null][]) {
      if (flat) out.push(this.deadLetterOf(id, flat));
    }
    return out;
  }

  /** {@inheritDoc Transport.findDeadLetter} One `XRANGE <id> <id>`; no round trip for an id that is not a stream id. */
  async findDeadLetter(queue: string, id: string): Promise<DeadLetter | undefined> {
    this.assertOpen();
    if (!STREAM_ID.test(id)) return undefined;
    let reply: unknown;
    try {
      reply = await this.client.callBuffer('XRANGE', deadLetterKey(this.prefix, queue), id, id, 'COUNT', 1);
    } catch (e) {
      throw failure('findDeadLetter', e);
    }
    const [entry] = reply as [Buffer, Buffer[] | null][];
    return entry?.[1] ? this.deadLetterOf(entry[0], entry[1]) : undefined;
  }

  /** {@inheritDoc Transport.removeDeadLetters} One `XDEL`; ids that are not stream ids are skipped without asking Redis. */
  async removeDeadLetters(queue: string, ids: readonly string[]): Promise<number> {
    this.assertOpen();
    const valid = ids.filter((id) => STREAM_ID.test(id));
    if (valid.length === 0) return 0;
    try {
      return Number(await this.client.call('XDEL', deadLetterKey(this.prefix, queue), ...valid));
    } catch (e) {
      throw failure('removeDeadLetters', e);
    }
  }

  /** {@inheritDoc Transport.purgeDeadLetters} One `MULTI XLEN DEL EXEC` on the dead-letter stream. */
  async purgeDeadLetters(queue: string): Promise<number> {
    this.assertOpen();
    const key = deadLetterKey(this.prefix, queue);
    try {
      const res = await this.client.multi().call('XLEN', key).call('DEL', key).exec();
      if (!res) throw new Error('transaction aborted');
      for (const [err] of res) if (err) throw err;
      return Number(res[0]![1]);
    } catch (e) {
      throw failure('purgeDeadLetters', e);
    }
  }

  /**
   * {@inheritDoc Transport.backlog}
   *
   * @remarks
   * One pipeline of `XLEN` and `XINFO GROUPS`. For an existing group: `pending` (delivered, not
   * acked) + `lag` (not yet delivered). When Redis cannot compute `lag` (after deletions inside
   * the unread range) the entries after `last-delivered-id` are counted with `XRANGE` instead. A
   * group that does not exist yet would read the stream from the start, so its backlog is
   * `XLEN`; a queue with no stream has a backlog of 0.
   */
  async backlog(queue: string, group: string): Promise<number> {
    this.assertOpen();
    const key = streamKey(this.prefix, queue);
    try {
      const res = await this.client.pipeline().call('XLEN', key).call('XINFO', 'GROUPS', key).exec();
      const [[lenErr, len], [infoErr, info]] = res! as [Error | null, unknown][];
      if (lenErr) throw lenErr;
      if (infoErr) {
        if (/no such key/i.test(infoErr.message)) return 0;
        throw infoErr;
      }
      for (const g of info as unknown[]) {
        const r = asRecord(g);
        if (str(r.name) !== group) continue;
        const pending = Number(r.pending ?? 0);
        if (r.lag !== null && r.lag !== undefined) return pending + Number(r.lag);
        return pending + await this.countAfter(key, str(r['last-delivered-id'] ?? '0-0'));
      }
      return Number(len);
    } catch (e) {
      throw failure('backlog', e);
    }
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new TransportError('redis-streams transport is closed');
  }

  /** A dead-letter stream entry as a {@link DeadLetter}: the original fields apart, the `dlq_*` fields as the reason. */
  private deadLetterOf(id: Buffer, flat: readonly Buffer[]): DeadLetter {
    const all = this.fields(flat);
    const fields: Record<string, string | Buffer> = {};
    const details: Record<string, string> = {};
    for (const [k, v] of Object.entries(all)) {
      if (k.startsWith(DeadLetterField.DETAIL_PREFIX)) details[k.slice(DeadLetterField.DETAIL_PREFIX.length)] = str(v);
      else if (!k.startsWith(DEAD_LETTER_FIELD_PREFIX)) fields[k] = v;
    }
    return {
      id: str(id),
      originalId: str(all[DeadLetterField.ORIGINAL_ID] ?? ''),
      fields,
      reason: {
        code: str(all[DeadLetterField.CODE] ?? ''),
        message: str(all[DeadLetterField.MESSAGE] ?? ''),
        ...(Object.keys(details).length ? { details } : {}),
      },
      atMs: Number(str(all[DeadLetterField.AT_MS] ?? '0')),
    };
  }

  private xadd(key: string, fields: Fields, maxLen: number): Cmd {
    const cmd: Cmd = maxLen > 0 ? ['XADD', key, 'MAXLEN', '~', maxLen, '*'] : ['XADD', key, '*'];
    const n = cmd.length;
    for (const name of Object.keys(fields)) cmd.push(name, fields[name]!);
    if (cmd.length === n) throw new TypeError('a message needs at least one field');
    return cmd;
  }

  /** Sends commands in one round trip: a single call, or a pipeline. Throws the first error. */
  private async run(client: RedisClientLike, cmds: readonly Cmd[]): Promise<unknown[]> {
    if (cmds.length === 1) {
      const c = cmds[0]!;
      // One command (a single publish, a plain XACK): hand-encoded, unless the client prefixes keys.
      if (this.handEncoded) return [await client.sendCommand(encoded(c))];
      return [await client.call(...c)];
    }
    const p = client.pipeline();
    for (const c of cmds) {
      if (this.handEncoded) (p as unknown as { sendCommand(c: EncodedCommand): unknown }).sendCommand(encoded(c));
      else p.call(...c);
    }
    const res = (await p.exec())!;
    const out: unknown[] = new Array(res.length);
    for (let i = 0; i < res.length; i++) {
      const [err, v] = res[i]!;
      if (err) throw err;
      out[i] = v;
    }
    return out;
  }

  /**
   * Sends `EVALSHA` calls of one script in one round trip; calls refused with `NOSCRIPT` (the
   * script cache was flushed, so none of them ran) are sent again as `EVAL`, in order. Each call is
   * encoded straight into one Buffer (see `resp.ts`), unless the client adds a key prefix of its own.
   */
  private async runScripts(s: LuaScript, calls: readonly ScriptCall[]): Promise<unknown[]> {
    const send = (c: ScriptCall, useEval: boolean): Promise<unknown> => {
      const cmd = this.scriptCommand(s, c, useEval);
      return cmd instanceof EncodedCommand ? this.client.sendCommand(cmd) as Promise<unknown> : this.client.callBuffer(...cmd);
    };
    if (calls.length === 1) {
      try {
        return [await send(calls[0]!, false)];
      } catch (e) {
        if (!errorText(e).startsWith('NOSCRIPT')) throw e;
        return [await send(calls[0]!, true)];
      }
    }
    const p = this.client.pipeline();
    for (const c of calls) {
      const cmd = this.scriptCommand(s, c, false);
      if (cmd instanceof EncodedCommand) (p as unknown as { sendCommand(c: EncodedCommand): unknown }).sendCommand(cmd);
      else p.callBuffer(...cmd);
    }
    const res = (await p.exec())!;
    const out: unknown[] = new Array(res.length);
    for (let i = 0; i < res.length; i++) {
      const [err, v] = res[i]!;
      if (err) {
        if (!errorText(err).startsWith('NOSCRIPT')) throw err;
        out[i] = await send(calls[i]!, true);
      } else {
        out[i] = v;
      }
    }
    return out;
  }

  /** The fields of one entry of a queue (`XRANGE key id id`), or `undefined` when it is not there. */
  async entry(queue: string, id: string): Promise<Fields | undefined> {
    this.assertOpen();
    const reply = await this.client.callBuffer('XRANGE', streamKey(this.prefix, queue), id, id) as [Buffer, Buffer[]][];
    const e = reply[0];
    return e ? this.fields(e[1]) : undefined;
  }

  /**
   * Runs calls of a script in one round trip, the way the transport runs its own (hand-encoded
   * `EVALSHA`, `EVAL` on `NOSCRIPT`). For the plugin's dispatch ledger, whose scripts pair record
   * transitions with stream operations.
   * @internal
   */
  runScriptCalls(s: LuaScript, calls: readonly ScriptCall[]): Promise<unknown[]> {
    this.assertOpen();
    return this.runScripts(s, calls);
  }

  /** One script call: hand-encoded, or as arguments for ioredis's own encoding when the client has a keyPrefix. */
  private scriptCommand(s: LuaScript, c: ScriptCall, useEval: boolean): EncodedCommand | [string, ...Buffer[]] {
    const head = useEval ? s.lua : s.sha;
    const w = new RespWriter(3 + c.keys.length + c.argc, c.sizeHint);
    w.bulk(useEval ? 'EVAL' : 'EVALSHA');
    w.bulk(head);
    w.bulk(c.keys.length);
    for (const k of c.keys) w.bulk(k);
    c.write(w);
    if (this.handEncoded) {
      return new EncodedCommand(useEval ? 'eval' : 'evalsha', [head, String(c.keys.length), ...c.keys], w.finish());
    }
    return decodeCommand(w.finish());
  }

  /** One call of a one-key script, through {@link runScripts} (hand-encoding and the `NOSCRIPT` fallback). */
  private async eval(s: LuaScript, key: string, args: readonly (string | number)[]): Promise<unknown> {
    const [reply] = await this.runScripts(s, [{
      keys: [key],
      argc: args.length,
      sizeHint: 128 + args.length * 24,
      write(w) {
        for (const a of args) w.bulk(a);
      },
    }]);
    return reply;
  }

  private async createGroup(key: string, group: string): Promise<void> {
    try {
      await this.client.call('XGROUP', 'CREATE', key, group, '0', 'MKSTREAM');
    } catch (e) {
      if (!errorText(e).startsWith('BUSYGROUP')) throw failure('consume (creating the group)', e);
    }
  }

  /** Entries after `afterId` (exclusive), counted in pages of ids. Only for backlog's rare fallback. */
  private async countAfter(key: string, afterId: string): Promise<number> {
    let n = 0;
    let from = `(${afterId}`;
    for (;;) {
      const page = (await this.client.callBuffer('XRANGE', key, from, '+', 'COUNT', 1000)) as [Buffer, unknown][];
      n += page.length;
      if (page.length < 1000) return n;
      from = `(${str(page[page.length - 1]![0])}`;
    }
  }


  /** A non-blocking packed read ({@link READ_PACKED}), creating the group on demand. */
  private async readPacked(
    key: string, group: string, consumer: string, count: number, ack: readonly string[], minId = '', expireMs?: number,
  ): Promise<Delivery[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const reply = await this.eval(READ_PACKED, key, [group, consumer, count, minId, expireMs ?? '', ...ack]);
        return Buffer.isBuffer(reply) ? this.unpack(reply) : [];
      } catch (e) {
        if (this.closed) return [];
        if (attempt > 0 || !isMissingGroup(e)) throw failure('consume', e);
        await this.createGroup(key, group);
      }
    }
  }

  /** Parses {@link READ_PACKED}'s reply. Values of binary fields are views into `b`, not copies. */
  private unpack(b: Buffer): Delivery[] {
    const r = new MsgpackReader(b);
    const n = r.array();
    const out: Delivery[] = new Array(n);
    for (let e = 0; e < n; e++) {
      if (r.array() !== 2) throw r.malformed();
      const [is, ie] = r.str();
      const id = b.toString('latin1', is, ie);
      const items = r.array();
      const f: Record<string, string | Buffer> = {};
      for (let i = 0; i + 1 < items; i += 2) {
        const [ns, ne] = r.str();
        const name = this.fieldName(b, ns, ne, i >> 1);
        const [vs, ve] = r.str();
        f[name] = this.allBinary || this.binary.has(name) ? b.subarray(vs, ve) : b.toString('utf8', vs, ve);
      }
      if (items % 2) r.str();
      out[e] = { id, fields: f, deliveryCount: 1 };
    }
    return out;
  }

  /** The field name in `b[start, end)`, reusing the string of the same name at position `pos` of the last entry. */
  private fieldName(b: Buffer, start: number, end: number, pos: number): string {
    const prev = this.lastNames[pos];
    if (prev !== undefined && prev.length === end - start) {
      let i = 0;
      while (i < prev.length && prev[i] === b[start + i]) i++;
      if (i === prev.length) return this.lastNameStrings[pos]!;
    }
    const s = b.toString('utf8', start, end);
    if (pos < 64) {
      this.lastNames[pos] = Buffer.from(b.subarray(start, end));
      this.lastNameStrings[pos] = s;
    }
    return s;
  }

  private deliveries(entries: unknown[]): Delivery[] {
    const out: Delivery[] = [];
    for (const e of entries as [Buffer, Buffer[] | null][]) {
      if (!e[1]) continue;
      out.push({ id: str(e[0]), fields: this.fields(e[1]), deliveryCount: 1 });
    }
    return out;
  }

  private fields(flat: readonly Buffer[]): Record<string, string | Buffer> {
    const f: Record<string, string | Buffer> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const nb = flat[i]!;
      const name = Buffer.isBuffer(nb) ? this.fieldName(nb, 0, nb.length, i >> 1) : str(nb);
      const v = flat[i + 1]!;
      f[name] = this.allBinary || this.binary.has(name) ? v : str(v);
    }
    return f;
  }
}
