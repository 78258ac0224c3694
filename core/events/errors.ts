import { WeftError } from '../errors';
import type { Fields } from '../runtime/transport';
import type { EventAppendOptions, EventReadOptions } from './event-log';

/** Codes raised by event logs, subscriptions and progress reporting. See docs/events.md. */
export const EventsErrorCode = {
  /** A bad argument to `EventLog.append` or `EventLog.read` (stream name, fields, id, count, ...). */
  INVALID_ARGUMENT: 'WEFT_EVENT_LOG_INVALID_ARGUMENT',
  /** The event log was used after `close()`. */
  CLOSED: 'WEFT_EVENT_LOG_CLOSED',
  /** The event log's backend failed (connection lost, server error). Retryable. */
  FAILED: 'WEFT_EVENT_LOG_FAILED',
  /** The app has no `eventLog` port: `subscribe` and `cancel` need one. */
  MISSING: 'WEFT_EVENT_LOG_MISSING',
  /** `ctx.progress(percent)` was given a percent that is not a finite number from 0 to 100. */
  PROGRESS_INVALID: 'WEFT_PROGRESS_INVALID',
} as const;

/** A bad argument to an {@link EventLog} method (code `WEFT_EVENT_LOG_INVALID_ARGUMENT`). */
export class EventLogArgumentError extends WeftError {
  constructor(message: string) {
    super(EventsErrorCode.INVALID_ARGUMENT, message);
  }
}

/** The event log was closed (code `WEFT_EVENT_LOG_CLOSED`). */
export class EventLogClosedError extends WeftError {
  constructor(name: string) {
    super(EventsErrorCode.CLOSED, `event log ${name} is closed; create a new one (or a new app)`);
  }
}

/** The event log's backend failed (code `WEFT_EVENT_LOG_FAILED`); retrying may succeed. */
export class EventLogError extends WeftError {
  /** Read by the dispatch layer's `classifyError`. */
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(EventsErrorCode.FAILED, message, options);
  }
}

/** The app has no `eventLog` port (code `WEFT_EVENT_LOG_MISSING`). */
export class EventLogMissingError extends WeftError {
  constructor(what: string) {
    super(EventsErrorCode.MISSING,
      `${what} needs an event log, and no plugin of this app provides the "eventLog" port. ` +
      'The memory and redis plugins provide one; a custom plugin set must include a plugin that provides "eventLog".');
  }
}

/** Longest logical stream name accepted, characters. */
export const MAX_STREAM_NAME_LENGTH = 1024;
/** Largest `count` of one read: bounds the memory of one reply. */
export const MAX_READ_COUNT = 10_000;
/** Default `count` of a read. */
export const DEFAULT_READ_COUNT = 100;

const ENTRY_ID = /^(0|[1-9]\d{0,15})(-(0|[1-9]\d{0,19}))?$/;

/** Throws {@link EventLogArgumentError} unless `stream` is a usable logical stream name. */
export function checkStreamName(stream: unknown): asserts stream is string {
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > MAX_STREAM_NAME_LENGTH) {
    throw new EventLogArgumentError(`stream name must be a non-empty string of at most ${MAX_STREAM_NAME_LENGTH} characters, got ${describe(stream)}`);
  }
}

/**
 * Throws {@link EventLogArgumentError} unless `id` is `'0'`, `<ms>` or `<ms>-<seq>` (decimal): the
 * ids an event log hands out, or `'0'` for "from the start".
 */
export function checkEntryId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ENTRY_ID.test(id)) {
    throw new EventLogArgumentError(`afterId must be '0' or an entry id '<ms>-<seq>' returned by the log, got ${describe(id)}`);
  }
}

/** The checked arguments of an append. */
export function checkAppend(stream: unknown, fields: unknown, options: EventAppendOptions | undefined): void {
  checkStreamName(stream);
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new EventLogArgumentError(`fields must be an object of field name to string or Buffer, got ${describe(fields)}`);
  }
  const names = Object.keys(fields);
  if (names.length === 0) throw new EventLogArgumentError('an event needs at least one field');
  for (const k of names) {
    const v = (fields as Fields)[k];
    if (typeof v !== 'string' && !Buffer.isBuffer(v)) {
      throw new EventLogArgumentError(`field '${k.slice(0, 60)}' must be a string or a Buffer, got ${describe(v)}`);
    }
  }
  if (options?.maxLen !== undefined) positiveInt('maxLen', options.maxLen);
  if (options?.ttlMs !== undefined) positiveInt('ttlMs', options.ttlMs);
}

/** The checked read options, with defaults: `count` 100, `blockMs` 0. */
export function checkRead(stream: unknown, afterId: unknown, options: EventReadOptions | undefined): { count: number; blockMs: number } {
  checkStreamName(stream);
  checkEntryId(afterId);
  const count = options?.count === undefined ? DEFAULT_READ_COUNT : positiveInt('count', options.count);
  if (count > MAX_READ_COUNT) throw new EventLogArgumentError(`count must be at most ${MAX_READ_COUNT}, got ${count}; read in pages`);
  const blockMs = options?.blockMs === undefined ? 0 : nonNegativeInt('blockMs', options.blockMs);
  return { count, blockMs };
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new EventLogArgumentError(`${name} must be a positive integer, got ${describe(v)}`);
  }
  return v;
}

function nonNegativeInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new EventLogArgumentError(`${name} must be a non-negative integer (ms), got ${describe(v)}`);
  }
  return v;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (Buffer.isBuffer(v)) return 'a Buffer';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** Parses an entry id into `[ms, seq]` (`<ms>` alone means `<ms>-0`, as Redis reads it). */
export function parseEntryId(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  return dash < 0 ? [BigInt(id), 0n] : [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

/**
 * Retention of a stream when an append gives no `maxLen`: the memory and Redis event logs keep
 * about this many newest entries, so no stream grows without bound.
 */
export const DEFAULT_EVENT_MAX_LEN = 10_000;
