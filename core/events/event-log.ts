import type { Fields } from '../runtime/transport';

/** One entry of an event stream. */
export interface LoggedEvent {
  /** The entry id: increasing within a stream (a Redis stream id, `<ms>-<seq>`). */
  readonly id: string;
  readonly fields: Fields;
}

/** Options of {@link EventLog.append}. */
export interface EventAppendOptions {
  /** Approximate retention: the stream keeps at least about this many newest entries. */
  readonly maxLen?: number;
  /** The stream expires this long after its last append, ms. */
  readonly ttlMs?: number;
}

/** Options of {@link EventLog.read}. */
export interface EventReadOptions {
  /** At most this many entries. Default 100. */
  readonly count?: number;
  /** When there is nothing after `afterId`, wait up to this long for an entry, ms. Default 0. */
  readonly blockMs?: number;
}

/**
 * Append-only event streams with independent readers: every reader keeps its own cursor and sees
 * every entry (no consumer groups). Redis: `XADD MAXLEN ~` and `XREAD`; memory: arrays.
 */
export interface EventLog {
  readonly name: string;
  /** Appends one entry to `stream` and returns its id. */
  append(stream: string, fields: Fields, options?: EventAppendOptions): Promise<string>;
  /** Entries after `afterId` (`'0'`: from the start) in order. */
  read(stream: string, afterId: string, options?: EventReadOptions): Promise<LoggedEvent[]>;
  close?(): Promise<void>;
}
