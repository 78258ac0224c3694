import type { Fields } from '../../core/runtime/transport';
import type { EventAppendOptions, EventLog, LoggedEvent } from '../../core/events/event-log';
import type { AbortableReadOptions } from '../../core/events/abortable';
import {
  checkAppend, checkRead, DEFAULT_EVENT_MAX_LEN, EventLogArgumentError, EventLogClosedError, EventLogError,
} from '../../core/events/errors';
import { BlockerPool } from './blocker-pool';
import { clientFor, connectOwned, quitClient, type RedisClientLike, type RedisConnection } from './connection';
import { asRecord, entriesOfRead, str } from './replies';
import { messageOf } from '../../core/runtime/errors';
import { DEFAULT_PREFIX } from './schema-store';

/** Most idle blocking connections kept for reuse; more concurrent blocking reads open more, closed after use. */
const MAX_IDLE_BLOCKERS = 4;

/** Options of {@link RedisEventLog}. */
export interface RedisEventLogOptions {
  /**
   * Where to connect: a URL, ioredis options, or a client of yours (used, never closed). Default
   * `redis://127.0.0.1:6379`. Blocking reads run on duplicates of the client, which the log opens
   * and closes itself.
   */
  readonly redis?: RedisConnection;
  /** Key prefix. Default `weft`. Writers and readers must agree on it. */
  readonly prefix?: string;
  /** Retention (`MAXLEN ~`) of a stream whose appends give no `maxLen`. Default 10,000. */
  readonly defaultMaxLen?: number;
}

/** The Redis key of logical event stream `stream`: `<prefix>:events:{<stream>}`. */
export function eventStreamKey(prefix: string, stream: string): string {
  return `${prefix}:events:{${stream}}`;
}

/**
 * The {@link EventLog} over Redis Streams: one stream per logical stream, at
 * `<prefix>:events:{<stream>}`, read with plain `XREAD` (no consumer groups), so every reader keeps
 * its own cursor and sees every entry.
 *
 * @remarks
 * - `append`: `MULTI`, `XADD <key> MAXLEN ~ <n> * <fields>`, `PEXPIRE <key> <ttlMs>` (when a TTL is
 *   given), `EXEC`: one round trip, and the TTL always goes with the entry.
 * - `read`: `XREAD COUNT <n> STREAMS <key> <afterId>` on the shared client; with `blockMs > 0`,
 *   `XREAD COUNT <n> BLOCK <ms> ...` on a connection of its own (a duplicate of the client), since
 *   a blocked connection cannot serve other commands. Idle blocking connections are pooled (up to
 *   4) and closed by `close()`; a read whose `signal` fires closes its connection at once and
 *   returns `[]`.
 * - Values are written byte for byte and read back as UTF-8 strings: the log carries text.
 * - `MAXLEN ~` trims in whole macro nodes, so a stream may hold somewhat more than `maxLen`
 *   entries, never fewer.
 *
 * @example
 * ```ts
 * const log = new RedisEventLog({ redis: process.env.REDIS_URL, prefix: 'weft' });
 * await log.append('events.e1', { kind: 'progress', percent: '50' }, { maxLen: 10_000, ttlMs: 86_400_000 });
 * const entries = await log.read('events.e1', '0', { count: 100, blockMs: 1000 });
 * await log.close();
 * ```
 */
export class RedisEventLog implements EventLog {
  /** Always `redis`. */
  readonly name = 'redis';
  /** The key prefix in use. */
  readonly prefix: string;
  /** The client non-blocking commands go through. */
  readonly client: RedisClientLike;
  private readonly owned: boolean;
  private readonly defaultMaxLen: number;
  private readonly blockers: BlockerPool;
  private closed = false;

  constructor(options: RedisEventLogOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    if (!this.prefix) throw new EventLogArgumentError('RedisEventLog: prefix must not be empty');
    const max = options.defaultMaxLen ?? DEFAULT_EVENT_MAX_LEN;
    if (!Number.isSafeInteger(max) || max <= 0) throw new EventLogArgumentError(`RedisEventLog: defaultMaxLen must be a positive integer, got ${String(max)}`);
    this.defaultMaxLen = max;
    ({ client: this.client, owned: this.owned } = clientFor(options.redis));
    if (this.owned) this.client.on('error', () => { /* surfaced by the failing command */ });
    this.blockers = new BlockerPool(this.client, MAX_IDLE_BLOCKERS);
  }

  /** The Redis key of a logical stream. */
  key(stream: string): string {
    return eventStreamKey(this.prefix, stream);
  }

  /** Connects a client the log created; a no-op for one it was given. */
  async init(): Promise<void> {
    if (this.closed) throw new EventLogClosedError(this.name);
    if (this.owned) {
      try {
        await connectOwned(this.client);
      } catch (e) {
        throw new EventLogError(`redis event log: cannot connect: ${messageOf(e)}`, { cause: e });
      }
    }
  }

  /** {@inheritDoc EventLog.append} */
  async append(stream: string, fields: Fields, options?: EventAppendOptions): Promise<string> {
    this.assertOpen();
    checkAppend(stream, fields, options);
    const key = this.key(stream);
    const args: (string | Buffer | number)[] = [key, 'MAXLEN', '~', options?.maxLen ?? this.defaultMaxLen, '*'];
    for (const [k, v] of Object.entries(fields)) args.push(k, v);
    const tx = this.client.multi();
    tx.call('XADD', ...args);
    if (options?.ttlMs !== undefined) tx.call('PEXPIRE', key, options.ttlMs);
    let res: [Error | null, unknown][] | null;
    try {
      res = await tx.exec();
    } catch (e) {
      throw new EventLogError(`redis event log: append to ${stream} failed: ${messageOf(e)}`, { cause: e });
    }
    const first = res?.[0];
    if (!first || first[0]) throw new EventLogError(`redis event log: append to ${stream} failed: ${messageOf(first?.[0] ?? 'transaction aborted')}`);
    return String(first[1]);
  }

  /** {@inheritDoc EventLog.read} */
  async read(stream: string, afterId: string, options?: AbortableReadOptions): Promise<LoggedEvent[]> {
    this.assertOpen();
    const { count, blockMs } = checkRead(stream, afterId, options);
    const key = this.key(stream);
    if (blockMs === 0) {
      try {
        return entries(await this.client.call('XREAD', 'COUNT', count, 'STREAMS', key, afterId));
      } catch (e) {
        throw new EventLogError(`redis event log: read of ${stream} failed: ${messageOf(e)}`, { cause: e });
      }
    }
    const signal = options?.signal;
    if (signal?.aborted) return [];
    const conn = this.blockers.acquire();
    let aborted = false;
    const onAbort = (): void => {
      // A blocked XREAD cannot be taken back: drop the connection instead.
      aborted = true;
      this.blockers.discard(conn);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return entries(await conn.call('XREAD', 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, afterId));
    } catch (e) {
      if (aborted || this.closed) return [];
      throw new EventLogError(`redis event log: blocking read of ${stream} failed: ${messageOf(e)}`, { cause: e });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!aborted) this.blockers.release(conn);
    }
  }

  /**
   * Closes the blocking connections (a blocked read returns `[]`), then the client if the log
   * created it. A client that was passed in stays open.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.blockers.close();
    if (this.owned) await quitClient(this.client);
  }

  private assertOpen(): void {
    if (this.closed) throw new EventLogClosedError(this.name);
  }
}

/** The entries of an `XREAD` reply of one stream (`null` when there were none), whatever its shape. */
function entries(reply: unknown): LoggedEvent[] {
  return entriesOfRead(reply).map((e) => {
    const [id, flat] = e as [unknown, unknown];
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(asRecord(flat))) fields[k] = str(v);
    return { id: str(id), fields };
  });
}
