/**
 * Replay-safe dispatch: deterministic idempotency keys, the per-item state machine, the
 * {@link DispatchStore} port that records every dispatch durably, retry policy and error
 * classification, absolute deadlines, and the {@link Reconciler} that recovers stalled records.
 *
 * @example
 * ```ts
 * import { idempotencyKey, DispatchState } from 'weft/core/dispatch';
 * import { MemoryDispatchStore } from 'weft/plugins/memory';
 *
 * const store = new MemoryDispatchStore();
 * const key = { executionId: 'exec-1', stepId: 'extract',
 *   idempotencyKey: idempotencyKey({ pipeline: 'shop', step: 'extract', businessKey: 'order-1', lineageIndex: 0 }) };
 * await store.create({ ...key, correlationId: 'corr-1', envelope: { task: 'shop.extract' }, nowMs: Date.now() });
 * const moved = await store.transition(key, { from: DispatchState.PENDING, to: DispatchState.SENT, nowMs: Date.now() });
 * if (!moved.ok) console.log('someone else sent it first:', moved.current?.state);
 * ```
 *
 * @packageDocumentation
 */
export { DispatchErrorCode, DispatchKeyError, DispatchArgumentError, RetryPolicyError } from './errors';
export type { DispatchErrorCodeValue } from './errors';
export { idempotencyKey, isIdempotencyKey, IDEMPOTENCY_KEY_HEX_LENGTH, IDEMPOTENCY_KEY_DOMAIN } from './idempotency';
export type { IdempotencyInput } from './idempotency';
export { checkDispatchKey, formatDispatchKey, MAX_KEY_PART_LENGTH } from './key';
export type { DispatchKey } from './key';
export {
  DispatchState, DISPATCH_STATES, TERMINAL_STATES, NON_TERMINAL_STATES, DISPATCH_TRANSITIONS,
  isDispatchState, isTerminalState, canTransition, assertTransition, IllegalTransitionError,
} from './state';
export type { DispatchTransitionRule } from './state';
export { DISPATCH_HISTORY_LIMIT } from './store';
export type {
  DispatchStore, DispatchRecord, NewDispatchRecord, DispatchEnvelope, DispatchResult, DispatchFailure,
  DispatchHistoryEntry, CreateDispatchResult, DispatchTransition, TransitionDispatchResult,
  DispatchScanRequest, DispatchScanPage,
} from './store';
export {
  newRecordFrom, checkTransition, applyTransition, copyRecord, copyEnvelope, checkScanRequest,
  encodeScanCursor, decodeScanCursor, DEFAULT_SCAN_LIMIT, MAX_SCAN_LIMIT,
} from './record';
export type { CheckedTransition, CheckedScanRequest } from './record';
export {
  resolveRetryPolicy, backoffDelay, classifyError, nextAttemptDecision, RetryableError, FatalError,
  DEFAULT_RETRY_POLICY, FINAL_ERROR_CODES, RETRY_JITTER_MODES,
} from './retry';
export type { RetryPolicy, RetryJitter, ErrorClass, AttemptDecisionInput, AttemptDecision, RetryDecision, FailDecision } from './retry';
export { childDeadline, isExpired, remainingMs } from './deadline';
export { Reconciler, RECONCILER_DEFAULTS, NOTICE_STEP_PREFIX } from './reconciler';
export type { ReconcilerOptions, ReconcileStats, ReconcilerLogger } from './reconciler';
export { viewOf } from './ledger';
export type { DispatchLedger, LedgerItem, LedgerView, SendOutcome, LedgerAck, LedgerFailure, RedeliverStats } from './ledger';
export { StoreLedger, redeliveryFields, STORE_LEDGER_MAX_SCHEDULED } from './store-ledger';
export type { StoreLedgerOptions } from './store-ledger';
export { sendFinalNotices } from './final-notice';
