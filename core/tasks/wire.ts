import { WeftError } from '../errors';
import type { Fields } from '../runtime/transport';

/**
 * The wire contract's stream-entry field names (see ARCHITECTURE.md, "Wire contract (Redis)").
 * Every transport carries these, flat, in snake_case.
 */
export const WireField = {
  SCHEMA_ID: 'schema_id',
  TYPE: 'type',
  PAYLOAD: 'payload',
  TASK: 'task',
  RESOLVER_ID: 'resolver_id',
  STRATEGY: 'strategy',
  CORRELATION_ID: 'correlation_id',
  EXECUTION_ID: 'execution_id',
  IDEMPOTENCY_KEY: 'idempotency_key',
  RETRY_ATTEMPT: 'retry_attempt',
  DEADLINE_MS: 'deadline_ms',
  DISPATCH_TS_MS: 'dispatch_ts_ms',
  PARENT_ITEM_ID: 'parent_item_id',
  TRACEPARENT: 'traceparent',
  /** The step that dispatched the item: with `execution_id` and `idempotency_key`, the key of its dispatch record. */
  STEP_ID: 'step_id',
  /**
   * `1` on a message that crash recovery published again: it may duplicate one still queued, so
   * the worker looks its dispatch record up before running it. Absent otherwise.
   */
  RECOVERED: 'recovered',
  /**
   * `1` on a message whose worker reports its lifecycle to the execution's event stream
   * (`step_started`, then `step_completed` or `step_failed`; see docs/events.md). Absent otherwise:
   * no event is written for it.
   */
  EVENTS: 'events',
  /**
   * The item's lineage index (its position in a fan-out), written only with `events` = `1` so
   * that step events can name it. Absent otherwise.
   */
  LINEAGE_INDEX: 'lineage_index',
  /** Where the worker sends the result: a queue name. Empty when nobody waits for one. */
  REPLY_TO: 'reply_to',
} as const;

/** How a worker turns the `task` field into code (seed 001's `SerializedTask.strategy`). */
export type TaskStrategy = 'registry' | 'module';

/**
 * A task message as the runtime sees it. On the wire it is the flat field map of
 * {@link toFields}; `strategy` + `task` are seed 001's `SerializedTask { strategy, payload }`:
 * for `registry`, `task` is `name@version`; for `module`, `specifier#exportName`.
 */
export interface TaskEnvelope {
  readonly schemaId: string;
  /** Fully-qualified protobuf name of the payload's root message. */
  readonly type: string;
  readonly payload: Uint8Array;
  readonly task: string;
  readonly resolverId: string;
  readonly strategy: TaskStrategy;
  readonly correlationId: string;
  readonly executionId: string;
  readonly idempotencyKey: string;
  readonly retryAttempt: number;
  /** Absolute deadline, epoch ms; `undefined` for none. */
  readonly deadlineMs?: number;
  readonly dispatchTsMs: number;
  readonly parentItemId: string;
  readonly traceparent: string;
  /** The dispatching step; empty from producers that predate it (the worker then uses the task name). */
  readonly stepId: string;
  readonly replyTo: string;
  /** Republished by crash recovery (the `recovered` field): possibly a duplicate. */
  readonly recovered?: boolean;
  /** The worker reports step events for it (the `events` field is `1`). */
  readonly events?: boolean;
  /** The item's lineage index, carried with `events` (the `lineage_index` field). */
  readonly lineageIndex?: number;
}

/** The code of {@link EnvelopeError}. */
export const ENVELOPE_INVALID_CODE = 'WEFT_ENVELOPE_INVALID';

/** A message lacks a field of the wire contract or has a malformed one. */
export class EnvelopeError extends WeftError {
  constructor(message: string) {
    super(ENVELOPE_INVALID_CODE, message);
  }
}

/** The flat wire fields of an envelope. */
export function toFields(e: TaskEnvelope): Fields {
  return {
    [WireField.SCHEMA_ID]: e.schemaId,
    [WireField.TYPE]: e.type,
    [WireField.PAYLOAD]: Buffer.isBuffer(e.payload) ? e.payload : Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength),
    [WireField.TASK]: e.task,
    [WireField.RESOLVER_ID]: e.resolverId,
    [WireField.STRATEGY]: e.strategy,
    [WireField.CORRELATION_ID]: e.correlationId,
    [WireField.EXECUTION_ID]: e.executionId,
    [WireField.IDEMPOTENCY_KEY]: e.idempotencyKey,
    [WireField.RETRY_ATTEMPT]: String(e.retryAttempt),
    [WireField.DEADLINE_MS]: e.deadlineMs === undefined ? '' : String(e.deadlineMs),
    [WireField.DISPATCH_TS_MS]: String(e.dispatchTsMs),
    [WireField.PARENT_ITEM_ID]: e.parentItemId,
    [WireField.TRACEPARENT]: e.traceparent,
    [WireField.STEP_ID]: e.stepId,
    [WireField.REPLY_TO]: e.replyTo,
    ...(e.recovered ? { [WireField.RECOVERED]: '1' } : {}),
    ...(e.events ? { [WireField.EVENTS]: '1' } : {}),
    ...(e.events && e.lineageIndex !== undefined ? { [WireField.LINEAGE_INDEX]: String(e.lineageIndex) } : {}),
  };
}

function text(f: Fields, name: string, required: boolean): string {
  const v = f[name];
  if (v === undefined) {
    if (required) throw new EnvelopeError(`message has no '${name}' field; it was not written by a Weft producer of this wire version`);
    return '';
  }
  return typeof v === 'string' ? v : v.toString('utf8');
}

function int(f: Fields, name: string, fallback: number | undefined): number | undefined {
  const s = text(f, name, false);
  if (s === '') return fallback;
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new EnvelopeError(`field '${name}' is not a non-negative integer: ${JSON.stringify(s.slice(0, 40))}`);
  return n;
}

/**
 * Reads an envelope from wire fields.
 * @throws EnvelopeError (code `WEFT_ENVELOPE_INVALID`) when a required field is missing or malformed.
 */
export function fromFields(f: Fields): TaskEnvelope {
  const payload = f[WireField.PAYLOAD];
  if (payload === undefined) throw new EnvelopeError("message has no 'payload' field");
  const strategy = text(f, WireField.STRATEGY, false) || 'registry';
  if (strategy !== 'registry' && strategy !== 'module') throw new EnvelopeError(`unknown task strategy '${strategy.slice(0, 40)}'`);
  return {
    schemaId: text(f, WireField.SCHEMA_ID, true),
    type: text(f, WireField.TYPE, true),
    payload: typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload,
    task: text(f, WireField.TASK, true),
    resolverId: text(f, WireField.RESOLVER_ID, false) || 'default',
    strategy,
    correlationId: text(f, WireField.CORRELATION_ID, false),
    executionId: text(f, WireField.EXECUTION_ID, false),
    idempotencyKey: text(f, WireField.IDEMPOTENCY_KEY, false),
    retryAttempt: int(f, WireField.RETRY_ATTEMPT, 0)!,
    deadlineMs: int(f, WireField.DEADLINE_MS, undefined),
    dispatchTsMs: int(f, WireField.DISPATCH_TS_MS, 0)!,
    parentItemId: text(f, WireField.PARENT_ITEM_ID, false),
    traceparent: text(f, WireField.TRACEPARENT, false),
    stepId: text(f, WireField.STEP_ID, false),
    replyTo: text(f, WireField.REPLY_TO, false),
    ...(text(f, WireField.RECOVERED, false) === '1' ? { recovered: true } : {}),
    ...(f[WireField.EVENTS] === undefined || text(f, WireField.EVENTS, false) !== '1' ? {} : eventsOf(f)),
  };
}

/** `events` and, when the message carries it, `lineageIndex` (a malformed index is left out: it only labels events). */
function eventsOf(f: Fields): { events: true; lineageIndex?: number } {
  const raw = f[WireField.LINEAGE_INDEX];
  if (raw === undefined) return { events: true };
  const n = Number(typeof raw === 'string' ? raw : raw.toString('utf8'));
  return Number.isSafeInteger(n) && n >= 0 ? { events: true, lineageIndex: n } : { events: true };
}
