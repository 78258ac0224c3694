/**
 * Retry: the policy, the backoff formula, error classification and the retry-or-fail decision.
 * Pure functions: no I/O, no timers, no clock of their own (callers pass `nowMs` and may inject
 * `random`).
 *
 * @packageDocumentation
 */
import { ErrorCode, WeftError } from '../errors';
import { RuntimeErrorCode } from '../runtime/errors';
import { TaskErrorCode } from '../tasks/errors';
import { ENVELOPE_INVALID_CODE } from '../tasks/wire';
import { DispatchArgumentError, DispatchErrorCode, RetryPolicyError } from './errors';
import { describeValue } from './key';
import { checkDeadline, checkNow } from './deadline';

/** How the computed delay is randomised; see {@link backoffDelay}. */
export type RetryJitter = 'full' | 'equal' | 'none';

/** The jitter modes, for validation and docs. */
export const RETRY_JITTER_MODES: readonly RetryJitter[] = Object.freeze(['full', 'equal', 'none']);

/** When and how often a retryable failure is redelivered. */
export interface RetryPolicy {
  /** Total attempts, the first one included: 1 means never retry. An integer from 1. Default 3. */
  readonly maxAttempts: number;
  /** The delay before the first retry, before jitter, in ms. 0 or more. Default 200. */
  readonly initialDelayMs: number;
  /** Each further retry waits this many times longer. 1 or more. Default 2. */
  readonly multiplier: number;
  /** The cap on the delay, before jitter, in ms. At least `initialDelayMs`. Default 30 000. */
  readonly maxDelayMs: number;
  /** Default `full`. */
  readonly jitter: RetryJitter;
}

/** The defaults {@link resolveRetryPolicy} fills in. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 3,
  initialDelayMs: 200,
  multiplier: 2,
  maxDelayMs: 30_000,
  jitter: 'full',
});

/** The largest delay (about 24.8 days) a Node timer can wait; every ms value is checked against it. */
const MAX_DELAY_MS = 2 ** 31 - 1;

function checkCount(option: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new RetryPolicyError(option, `must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  }
}

/**
 * Fills a partial policy with {@link DEFAULT_RETRY_POLICY} and checks every value.
 *
 * @throws {@link RetryPolicyError} (`WEFT_RETRY_POLICY_INVALID`) for an unknown option or a value
 *   out of range; the message names the option and what it accepts.
 */
export function resolveRetryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  if (typeof partial !== 'object' || partial === null || Array.isArray(partial)) {
    throw new RetryPolicyError('policy', `must be an object such as { maxAttempts: 5 }, got ${describeValue(partial)}`);
  }
  for (const name of Object.keys(partial)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_RETRY_POLICY, name)) {
      throw new RetryPolicyError(name, `is not a retry policy option; use ${Object.keys(DEFAULT_RETRY_POLICY).join(', ')}`);
    }
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<RetryPolicy>;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...defined };
  checkCount('maxAttempts', policy.maxAttempts, 1, 1_000_000);
  checkCount('initialDelayMs', policy.initialDelayMs, 0, MAX_DELAY_MS);
  checkCount('maxDelayMs', policy.maxDelayMs, 0, MAX_DELAY_MS);
  if (typeof policy.multiplier !== 'number' || !Number.isFinite(policy.multiplier) || policy.multiplier < 1 || policy.multiplier > 1000) {
    throw new RetryPolicyError('multiplier', `must be a number from 1 (constant delay) to 1000, got ${describeValue(policy.multiplier)}`);
  }
  if (policy.maxDelayMs < policy.initialDelayMs) {
    throw new RetryPolicyError('maxDelayMs',
      `(${policy.maxDelayMs}) is below initialDelayMs (${policy.initialDelayMs}); raise maxDelayMs or lower initialDelayMs`);
  }
  if (!RETRY_JITTER_MODES.includes(policy.jitter)) {
    throw new RetryPolicyError('jitter', `must be one of ${RETRY_JITTER_MODES.join(', ')}, got ${describeValue(policy.jitter)}`);
  }
  return Object.freeze(policy);
}

function checkAttempt(attempt: unknown): asserts attempt is number {
  if (typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || attempt < 0) {
    throw new DispatchArgumentError(`attempt must be a non-negative safe integer (0 for the first delivery), got ${describeValue(attempt)}`);
  }
}

/**
 * The delay, in whole ms, before redelivering an item whose attempt `attempt` just failed.
 *
 * @remarks
 * `attempt` is the record's attempt (0 for the first delivery), so the first retry waits about
 * `initialDelayMs`. With `r = random()` clamped to [0, 1]:
 *
 * ```
 * base  = min(maxDelayMs, initialDelayMs * multiplier ^ attempt)
 * none:   delay = floor(base)
 * full:   delay = floor(r * base)                  // uniform in [0, base]
 * equal:  delay = floor(base / 2 + r * base / 2)   // uniform in [base/2, base]
 * ```
 *
 * The result is never above `maxDelayMs`. Inject `random` to make it deterministic (tests, replay).
 * `policy` is used as given: pass it through {@link resolveRetryPolicy} first.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  checkAttempt(attempt);
  const growth = policy.initialDelayMs === 0 ? 0 : policy.initialDelayMs * Math.pow(policy.multiplier, attempt);
  const base = Number.isFinite(growth) ? Math.min(policy.maxDelayMs, growth) : policy.maxDelayMs;
  if (policy.jitter === 'none') return Math.floor(base);
  const drawn = random();
  const r = Number.isNaN(drawn) ? 0 : Math.min(1, Math.max(0, drawn));
  if (policy.jitter === 'equal') return Math.floor(base / 2 + (r * base) / 2);
  return Math.floor(r * base);
}

/**
 * A failure worth retrying. Throw it from a task to say so explicitly; `code` defaults to
 * `WEFT_TASK_RETRYABLE` and may be your own (a code in {@link FINAL_ERROR_CODES} still wins).
 *
 * @example
 * ```ts
 * if (res.status === 503) throw new RetryableError('inventory service unavailable', { code: 'SHOP_INVENTORY_DOWN' });
 * ```
 */
export class RetryableError extends WeftError {
  /** Read by {@link classifyError}. */
  readonly retryable = true;
  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(options?.code ?? DispatchErrorCode.TASK_RETRYABLE, message, options);
  }
}

/**
 * A failure that can never succeed (`WEFT_TASK_FATAL`): never retried, the item goes straight to
 * `FAILED_FINAL` and the dead-letter queue.
 *
 * @example
 * ```ts
 * if (!order.customerId) throw new FatalError(`order ${order.id} has no customer; fix the order and resubmit`);
 * ```
 */
export class FatalError extends WeftError {
  /** Read by {@link classifyError}. */
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(DispatchErrorCode.TASK_FATAL, message, options);
  }
}

/**
 * Error codes that are never retried: a redelivery would fail the same way (the message is
 * malformed, invalid, of an unknown task or schema, refused by the module strategy, past its
 * deadline) or the task said so (`WEFT_TASK_FATAL`). Codes travel with a failure across the wire
 * (`RemoteTaskError` keeps the remote code), so the classification is the same on every machine.
 */
export const FINAL_ERROR_CODES: readonly string[] = Object.freeze([
  DispatchErrorCode.TASK_FATAL,
  ErrorCode.VALIDATION_FAILED,
  ErrorCode.DECODE_ERROR,
  ErrorCode.PAYLOAD_TOO_LARGE,
  ENVELOPE_INVALID_CODE,
  ErrorCode.SCHEMA_NOT_FOUND,
  ErrorCode.SCHEMA_CORRUPT,
  RuntimeErrorCode.SCHEMA_TYPE_MISMATCH,
  RuntimeErrorCode.DEADLINE_EXCEEDED,
  RuntimeErrorCode.CANCELLED,
  RuntimeErrorCode.OUTPUT_INVALID,
  RuntimeErrorCode.TASK_INSTANTIATION_FAILED,
  TaskErrorCode.TASK_UNKNOWN,
  TaskErrorCode.TASK_REF_INVALID,
  TaskErrorCode.RESOLVER_UNKNOWN,
  TaskErrorCode.STRATEGY_MISMATCH,
  TaskErrorCode.MODULE_NOT_ALLOWED,
  TaskErrorCode.MODULE_NOT_FOUND,
  TaskErrorCode.MODULE_LOAD_FAILED,
  TaskErrorCode.MODULE_EXPORT_INVALID,
]);

const FINAL_CODES: ReadonlySet<string> = new Set(FINAL_ERROR_CODES);

/** `retryable`: redeliver it (policy permitting). `final`: never. */
export type ErrorClass = 'retryable' | 'final';

/**
 * Classifies a thrown value, first rule that matches:
 *
 * 1. a {@link FatalError} -> `final`;
 * 2. a string `code` in {@link FINAL_ERROR_CODES} -> `final`;
 * 3. a boolean `retryable` property -> `retryable` when true, `final` when false;
 * 4. anything else (a plain `Error`, a transport error, a thrown string) -> `retryable`.
 */
export function classifyError(e: unknown): ErrorClass {
  if (e instanceof FatalError) return 'final';
  if (typeof e === 'object' && e !== null) {
    const { code, retryable } = e as { code?: unknown; retryable?: unknown };
    if (typeof code === 'string' && FINAL_CODES.has(code)) return 'final';
    if (typeof retryable === 'boolean') return retryable ? 'retryable' : 'final';
  }
  return 'retryable';
}

/** What {@link nextAttemptDecision} needs. */
export interface AttemptDecisionInput {
  /** A resolved policy (see {@link resolveRetryPolicy}). */
  readonly policy: RetryPolicy;
  /** The attempt that just failed: the record's `attempt`, 0 for the first delivery. */
  readonly attempt: number;
  /** What it failed with. */
  readonly error: unknown;
  /** Now, epoch ms. */
  readonly nowMs: number;
  /** The item's absolute deadline, epoch ms, when it has one. */
  readonly deadlineMs?: number;
  /** Injected into {@link backoffDelay}. */
  readonly random?: () => number;
}

/** Redeliver: move the record `FAILED_RETRYABLE -> SENT` with `attempt` no earlier than `notBeforeMs`. */
export interface RetryDecision {
  readonly action: 'retry';
  /** The next attempt number (the failed one + 1). */
  readonly attempt: number;
  readonly delayMs: number;
  /** `nowMs + delayMs`. */
  readonly notBeforeMs: number;
}

/**
 * Give up: move the record to `FAILED_FINAL` and dead-letter it.
 * `fatal`: the error is final ({@link classifyError}); `exhausted`: `maxAttempts` were used;
 * `deadline`: the retry could not start before the deadline, or the error was `WEFT_DEADLINE_EXCEEDED`.
 */
export interface FailDecision {
  readonly action: 'fail';
  readonly reason: 'fatal' | 'exhausted' | 'deadline';
}

/** The outcome of {@link nextAttemptDecision}. */
export type AttemptDecision = RetryDecision | FailDecision;

/**
 * Decides what happens after attempt `attempt` failed with `error`. Retry only when the error is
 * retryable, `attempt + 1 < maxAttempts`, and (with a deadline) `nowMs + delayMs < deadlineMs`.
 * Checked in that order, so a final error reports `fatal` even when retries are also exhausted.
 */
export function nextAttemptDecision(input: AttemptDecisionInput): AttemptDecision {
  const { policy, attempt, error, nowMs, deadlineMs } = input;
  checkAttempt(attempt);
  checkNow(nowMs);
  checkDeadline('deadlineMs', deadlineMs);
  if (classifyError(error) === 'final') {
    const code = (error as { code?: unknown } | null)?.code;
    return { action: 'fail', reason: code === RuntimeErrorCode.DEADLINE_EXCEEDED ? 'deadline' : 'fatal' };
  }
  if (attempt + 1 >= policy.maxAttempts) return { action: 'fail', reason: 'exhausted' };
  const delayMs = backoffDelay(policy, attempt, input.random);
  const notBeforeMs = nowMs + delayMs;
  if (deadlineMs !== undefined && notBeforeMs >= deadlineMs) return { action: 'fail', reason: 'deadline' };
  return { action: 'retry', attempt: attempt + 1, delayMs, notBeforeMs };
}
