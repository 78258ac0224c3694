import type { Fields } from '../../core/runtime/transport';
import type { EventAppendOptions, EventLog, LoggedEvent } from '../../core/events/event-log';
import type { AbortableReadOptions } from '../../core/events/abortable';
import {
  checkAppend, checkRead, DEFAULT_EVENT_MAX_LEN, EventLogArgumentError, EventLogClosedError, parseEntryId,
} from '../../core/events/errors';

/** Options of {@link MemoryEventLog}. */
export interface MemoryEventLogOptions {
  /** Retention of a stream whose appends give no `maxLen`. Default 10,000 entries. */
  readonly defaultMaxLen?: number;
  /**
   * Most streams kept at once: past it, the stream appended to least recently is dropped (and
   * expired streams first). Default 100,000.
   */
  readonly maxStreams?: number;
  /** Clock, epoch ms (tests). Default `Date.now`. */
  readonly now?: () => number;
}

interface Entry extends LoggedEvent {
  readonly ms: number;
  readonly seq: number;
}

interface Stream {
  /** Entries; the live ones start at `first` (trimmed slots are cleared, then compacted away). */
  entries: (Entry | undefined)[];
  first: number;
  lastMs: number;
  seq: number;
  /** Epoch ms after which the stream is gone; `Infinity` without a TTL. */
  expiresAt: number;
  /** Blocked reads waiting for an append to this stream. */
  readonly waiters: Set<() => void>;
}

/**
 * The embedded {@link EventLog}: one array per stream, in this process only.
 *
 * @remarks
 * Ids are `<ms>-<seq>` like Redis stream ids, and keep increasing when the clock stands still or
 * goes back. `maxLen` trims exactly (the stream keeps the newest `maxLen` entries); a stream whose
 * appends give none keeps {@link MemoryEventLogOptions.defaultMaxLen}. `ttlMs` drops a stream that
 * long after its last append. The number of streams is bounded too
 * ({@link MemoryEventLogOptions.maxStreams}), so memory stays bounded whatever is appended. A
 * blocking read waits for an append to its stream, its `blockMs`, its `signal` or `close()`,
 * whichever comes first; it holds one timer while it waits and none after.
 *
 * @example
 * ```ts
 * const log = new MemoryEventLog();
 * const id = await log.append('events.e1', { kind: 'progress', percent: '50' }, { maxLen: 1000 });
 * const next = await log.read('events.e1', id, { blockMs: 1000 }); // waits for the next entry
 * ```
 */
export class MemoryEventLog implements EventLog {
  /** Always `memory`. */
  readonly name = 'memory';
  private readonly streams = new Map<string, Stream>();
  private readonly defaultMaxLen: number;
  private readonly maxStreams: number;
  private readonly now: () => number;
  private closed = false;

  constructor(options: MemoryEventLogOptions = {}) {
    this.defaultMaxLen = positive('defaultMaxLen', options.defaultMaxLen ?? DEFAULT_EVENT_MAX_LEN);
    this.maxStreams = positive('maxStreams', options.maxStreams ?? 100_000);
    this.now = options.now ?? Date.now;
  }

  /** How many streams are held (expired ones are dropped as they are noticed). */
  get size(): number {
    return this.streams.size;
  }

  /** {@inheritDoc EventLog.append} */
  async append(stream: string, fields: Fields, options?: EventAppendOptions): Promise<string> {
    this.assertOpen();
    checkAppend(stream, fields, options);
    const now = this.now();
    let s = this.live(stream, now);
    if (s) {
      // Most recently appended streams go last: eviction takes the first.
      this.streams.delete(stream);
    } else {
      s = { entries: [], first: 0, lastMs: -1, seq: 0, expiresAt: Infinity, waiters: new Set() };
    }
    this.streams.set(stream, s);
    let ms = now;
    let seq = 0;
    if (ms <= s.lastMs) {
      ms = s.lastMs;
      seq = s.seq + 1;
    }
    s.lastMs = ms;
    s.seq = seq;
    const copy: Record<string, string | Buffer> = {};
    for (const [k, v] of Object.entries(fields)) copy[k] = typeof v === 'string' ? v : Buffer.from(v);
    const id = `${ms}-${seq}`;
    s.entries.push({ id, fields: copy, ms, seq });
    const maxLen = options?.maxLen ?? this.defaultMaxLen;
    while (s.entries.length - s.first > maxLen) s.entries[s.first++] = undefined;
    if (s.first > 1024 && s.first * 2 > s.entries.length) {
      s.entries = s.entries.slice(s.first);
      s.first = 0;
    }
    if (options?.ttlMs !== undefined) s.expiresAt = now + options.ttlMs;
    this.evict(now);
    for (const w of [...s.waiters]) w();
    return id;
  }

  /** {@inheritDoc EventLog.read} */
  async read(stream: string, afterId: string, options?: AbortableReadOptions): Promise<LoggedEvent[]> {
    this.assertOpen();
    const { count, blockMs } = checkRead(stream, afterId, options);
    const after = parseEntryId(afterId);
    const got = this.after(stream, after, count);
    if (got.length > 0 || blockMs === 0 || options?.signal?.aborted) return got;
    const deadline = Date.now() + blockMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed || options?.signal?.aborted) return [];
      await this.wait(stream, left, options?.signal);
      if (this.closed) return [];
      const more = this.after(stream, after, count);
      if (more.length > 0) return more;
    }
  }

  /** Wakes every blocked read (they return `[]`) and drops every stream. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) for (const w of [...s.waiters]) w();
    this.streams.clear();
  }

  /** Entries of `stream` after `after`, at most `count`. */
  private after(stream: string, after: [bigint, bigint], count: number): LoggedEvent[] {
    const s = this.live(stream, this.now());
    if (!s) return [];
    const { entries } = s;
    // First entry whose id is greater than `after` (binary search: ids increase).
    let lo = s.first;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = entries[mid]!;
      const ms = BigInt(e.ms);
      if (ms < after[0] || (ms === after[0] && BigInt(e.seq) <= after[1])) lo = mid + 1;
      else hi = mid;
    }
    const out: LoggedEvent[] = [];
    for (let i = lo; i < entries.length && out.length < count; i++) {
      const e = entries[i]!;
      out.push({ id: e.id, fields: e.fields });
    }
    return out;
  }

  /** Waits for an append to `stream`, `ms`, the signal or close(); leaves no timer or listener behind. */
  private wait(stream: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    let s = this.streams.get(stream);
    if (!s) {
      // A reader waits on a stream that does not exist yet: make an empty one to hang the waiter on.
      s = { entries: [], first: 0, lastMs: -1, seq: 0, expiresAt: Infinity, waiters: new Set() };
      this.streams.set(stream, s);
      this.evict(this.now());
    }
    const target = s;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        target.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        // An empty stream made only for waiters goes when its last waiter does.
        if (target.entries.length === target.first && target.waiters.size === 0 && this.streams.get(stream) === target && target.lastMs < 0) {
          this.streams.delete(stream);
        }
        resolve();
      };
      const timer = setTimeout(done, ms);
      target.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** The stream, unless it has expired (it is then dropped, and its waiters keep waiting on a fresh one). */
  private live(stream: string, now: number): Stream | undefined {
    const s = this.streams.get(stream);
    if (!s || s.expiresAt > now) return s;
    this.streams.delete(stream);
    if (s.waiters.size === 0) return undefined;
    const fresh: Stream = { entries: [], first: 0, lastMs: s.lastMs, seq: s.seq, expiresAt: Infinity, waiters: s.waiters };
    this.streams.set(stream, fresh);
    return fresh;
  }

  /** Drops expired streams at the front (least recently appended) and streams past `maxStreams`. */
  private evict(now: number): void {
    for (const [name, s] of this.streams) {
      if (this.streams.size <= this.maxStreams && s.expiresAt > now) break;
      if (s.waiters.size > 0 && this.streams.size <= this.maxStreams) break;
      this.streams.delete(name);
      for (const w of [...s.waiters]) w();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new EventLogClosedError(this.name);
  }
}

function positive(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0) throw new EventLogArgumentError(`MemoryEventLog: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}
