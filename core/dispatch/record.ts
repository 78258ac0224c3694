/**
 * Argument checks and value helpers shared by {@link DispatchStore} implementations, so that every
 * store accepts and refuses exactly the same input.
 *
 * @packageDocumentation
 */
import { DispatchArgumentError } from './errors';
import { checkDispatchKey, describeValue, type DispatchKey } from './key';
import { assertTransition, DispatchState, isDispatchState, isTerminalState, NON_TERMINAL_STATES } from './state';
import {
  DISPATCH_HISTORY_LIMIT,
  type DispatchEnvelope, type DispatchFailure, type DispatchHistoryEntry, type DispatchRecord, type DispatchResult,
  type DispatchScanRequest, type DispatchTransition, type NewDispatchRecord,
} from './store';

/** Default and largest `limit` of a scan page. */
export const DEFAULT_SCAN_LIMIT = 100;
export const MAX_SCAN_LIMIT = 1000;

function checkMs(what: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new DispatchArgumentError(`${what} must be a non-negative safe integer (epoch ms), got ${describeValue(value)}`);
  }
}

function checkAttempt(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new DispatchArgumentError(`attempt must be a non-negative safe integer, got ${describeValue(value)}`);
  }
}

/** Copies an envelope, checking that every value is a string or a Buffer. */
export function copyEnvelope(envelope: DispatchEnvelope): DispatchEnvelope {
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope) || Buffer.isBuffer(envelope)) {
    throw new DispatchArgumentError(`envelope must be an object of string or Buffer fields, got ${describeValue(envelope)}`);
  }
  const out: Record<string, string | Buffer> = {};
  for (const [name, value] of Object.entries(envelope)) {
    if (typeof value === 'string') out[name] = value;
    else if (Buffer.isBuffer(value)) out[name] = Buffer.from(value);
    else throw new DispatchArgumentError(`envelope field ${JSON.stringify(name)} must be a string or a Buffer, got ${describeValue(value)}`);
  }
  return out;
}

function checkFailure(error: unknown): DispatchFailure {
  const e = error as Partial<DispatchFailure> | null;
  if (typeof e !== 'object' || e === null || typeof e.code !== 'string' || e.code === '' || typeof e.message !== 'string' ||
      (e.stack !== undefined && typeof e.stack !== 'string')) {
    throw new DispatchArgumentError('error must be { code: non-empty string, message: string, stack?: string }');
  }
  return e.stack === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, stack: e.stack };
}

function checkResult(result: unknown): DispatchResult {
  const r = result as Partial<DispatchResult> | null;
  if (typeof r !== 'object' || r === null || !Buffer.isBuffer(r.bytes) || typeof r.schemaId !== 'string' || r.schemaId === '' ||
      typeof r.type !== 'string' || r.type === '') {
    throw new DispatchArgumentError('result must be { bytes: Buffer, schemaId: non-empty string, type: non-empty string }');
  }
  return { bytes: Buffer.from(r.bytes), schemaId: r.schemaId, type: r.type };
}

/**
 * Checks a {@link NewDispatchRecord} and returns the `PENDING` record it creates: a fresh copy
 * that shares nothing with the input.
 */
export function newRecordFrom(input: NewDispatchRecord): DispatchRecord {
  checkDispatchKey(input);
  if (typeof input.correlationId !== 'string' || input.correlationId === '') {
    throw new DispatchArgumentError(`correlationId must be a non-empty string, got ${describeValue(input.correlationId)}`);
  }
  const attempt = input.attempt ?? 0;
  checkAttempt(attempt);
  if (input.deadlineMs !== undefined) checkMs('deadlineMs', input.deadlineMs);
  checkMs('nowMs', input.nowMs);
  if (input.queue !== undefined && (typeof input.queue !== 'string' || input.queue === '')) {
    throw new DispatchArgumentError(`queue must be a non-empty string when given, got ${describeValue(input.queue)}`);
  }
  const record: DispatchRecord = {
    executionId: input.executionId,
    stepId: input.stepId,
    idempotencyKey: input.idempotencyKey,
    state: DispatchState.PENDING,
    attempt,
    correlationId: input.correlationId,
    ...(input.deadlineMs === undefined ? {} : { deadlineMs: input.deadlineMs }),
    createdAtMs: input.nowMs,
    updatedAtMs: input.nowMs,
    envelope: copyEnvelope(input.envelope),
    ...(input.queue === undefined ? {} : { queue: input.queue }),
    history: [],
    transitionCount: 0,
  };
  return record;
}

/** A {@link DispatchTransition} after {@link checkTransition}: the same shape, its values copied and checked. */
export type CheckedTransition = DispatchTransition;

/**
 * Checks a transition request: the key, then the edge (throwing `IllegalTransitionError` for one
 * the state machine does not allow), then the other fields. Returns checked copies.
 */
export function checkTransition(key: DispatchKey, change: DispatchTransition): CheckedTransition {
  checkDispatchKey(key);
  if (typeof change !== 'object' || change === null) throw new DispatchArgumentError(`change must be an object, got ${describeValue(change)}`);
  assertTransition(change.from, change.to, key);
  checkMs('nowMs', change.nowMs);
  if (change.attempt !== undefined) checkAttempt(change.attempt);
  let error: DispatchFailure | undefined;
  if (change.error !== undefined) {
    if (change.to !== DispatchState.FAILED_RETRYABLE && change.to !== DispatchState.FAILED_FINAL) {
      throw new DispatchArgumentError(`error is only accepted on a transition to FAILED_RETRYABLE or FAILED_FINAL, not to ${change.to}`);
    }
    error = checkFailure(change.error);
  }
  let result: DispatchResult | undefined;
  if (change.result !== undefined) {
    if (change.to !== DispatchState.ACKED) {
      throw new DispatchArgumentError(`result is only accepted on a transition to ACKED, not to ${change.to}`);
    }
    result = checkResult(change.result);
  }
  return {
    from: change.from, to: change.to, nowMs: change.nowMs,
    ...(change.attempt === undefined ? {} : { attempt: change.attempt }),
    ...(error ? { error } : {}),
    ...(result ? { result } : {}),
  };
}

/**
 * The record after a successful transition (the caller has already compared `record.state` with
 * `change.from`). Pure: returns a new record and keeps the newest `historyLimit` history entries.
 */
export function applyTransition(record: DispatchRecord, change: CheckedTransition, historyLimit = DISPATCH_HISTORY_LIMIT): DispatchRecord {
  const attempt = change.attempt ?? record.attempt;
  const entry: DispatchHistoryEntry = {
    atMs: change.nowMs, from: change.from, to: change.to, attempt,
    ...(change.error ? { error: change.error } : {}),
  };
  const history = [...record.history, entry];
  return {
    ...record,
    state: change.to,
    attempt,
    updatedAtMs: change.nowMs,
    ...(change.result ? { result: change.result } : {}),
    ...(change.error ? { lastError: change.error } : {}),
    history: history.slice(Math.max(0, history.length - historyLimit)),
    transitionCount: record.transitionCount + 1,
  };
}

/** A deep copy of a record: nothing in it is shared with the original. */
export function copyRecord(record: DispatchRecord): DispatchRecord {
  return {
    ...record,
    envelope: copyEnvelope(record.envelope),
    ...(record.result ? { result: { ...record.result, bytes: Buffer.from(record.result.bytes) } } : {}),
    ...(record.lastError ? { lastError: { ...record.lastError } } : {}),
    history: record.history.map((h) => ({ ...h, ...(h.error ? { error: { ...h.error } } : {}) })),
  };
}

/** A {@link DispatchScanRequest} after {@link checkScanRequest}. */
export interface CheckedScanRequest {
  readonly states: ReadonlySet<DispatchState>;
  /** `Infinity` when the request had no cutoff. */
  readonly olderThanMs: number;
  readonly limit: number;
  readonly cursor?: string;
}

/** Checks a scan request and fills in the defaults. The cursor is the store's to decode. */
export function checkScanRequest(request: DispatchScanRequest = {}): CheckedScanRequest {
  if (typeof request !== 'object' || request === null) throw new DispatchArgumentError(`scan request must be an object, got ${describeValue(request)}`);
  const states = request.states ?? NON_TERMINAL_STATES;
  if (!Array.isArray(states) || states.length === 0) throw new DispatchArgumentError('scan states must be a non-empty array of non-terminal states');
  for (const s of states) {
    if (!isDispatchState(s) || isTerminalState(s)) {
      throw new DispatchArgumentError(`scan lists non-terminal records only (PENDING, SENT, FAILED_RETRYABLE); got state ${describeValue(s)}`);
    }
  }
  if (request.olderThanMs !== undefined) checkMs('olderThanMs', request.olderThanMs);
  const limit = request.limit ?? DEFAULT_SCAN_LIMIT;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SCAN_LIMIT) {
    throw new DispatchArgumentError(`scan limit must be an integer from 1 to ${MAX_SCAN_LIMIT}, got ${describeValue(limit)}`);
  }
  if (request.cursor !== undefined && (typeof request.cursor !== 'string' || request.cursor === '')) {
    throw new DispatchArgumentError(`scan cursor must be a string the store returned, got ${describeValue(request.cursor)}`);
  }
  return {
    states: new Set(states),
    olderThanMs: request.olderThanMs ?? Number.POSITIVE_INFINITY,
    limit,
    ...(request.cursor === undefined ? {} : { cursor: request.cursor }),
  };
}

/**
 * Encodes a scan position (the last examined record's `updatedAtMs` and a store-specific sort key)
 * as an opaque cursor string.
 */
export function encodeScanCursor(score: number, member: string): string {
  return Buffer.from(JSON.stringify([score, member]), 'utf8').toString('base64url');
}

/** Decodes {@link encodeScanCursor}; throws `DispatchArgumentError` for anything else. */
export function decodeScanCursor(cursor: string): { score: number; member: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'number' || !Number.isSafeInteger(parsed[0]) ||
      typeof parsed[1] !== 'string') {
    throw new DispatchArgumentError('scan cursor is not one this store handed out; start again without a cursor');
  }
  return { score: parsed[0], member: parsed[1] };
}
