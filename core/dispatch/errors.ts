import { WeftError } from '../errors';

/**
 * Error codes raised by `core/dispatch`: idempotency keys, the dispatch state machine and the
 * {@link DispatchStore} port. Callers branch on these; see docs/errors.md.
 */
export const DispatchErrorCode = {
  /** An idempotency-key input or a record key part is empty, not a string, or malformed. */
  KEY_INVALID: 'WEFT_DISPATCH_KEY_INVALID',
  /** A state change that the dispatch state machine does not allow. */
  ILLEGAL_TRANSITION: 'WEFT_DISPATCH_ILLEGAL_TRANSITION',
  /** A malformed argument to a dispatch store: a record, a transition or a scan request. */
  ARGUMENT_INVALID: 'WEFT_DISPATCH_ARGUMENT_INVALID',
  /** A retry policy value is out of range or unknown. Thrown by `resolveRetryPolicy`. */
  RETRY_POLICY_INVALID: 'WEFT_RETRY_POLICY_INVALID',
  /** Default code of `RetryableError`: a task asked to be retried. */
  TASK_RETRYABLE: 'WEFT_TASK_RETRYABLE',
  /** Code of `FatalError`: a task said it can never succeed. Never retried. */
  TASK_FATAL: 'WEFT_TASK_FATAL',
  /**
   * Recorded, not thrown: the `lastError` code the reconciler writes when it takes a `SENT` record
   * that stayed idle past its threshold back to `FAILED_RETRYABLE` before redelivering it.
   */
  STALLED: 'WEFT_DISPATCH_STALLED',
  /**
   * Recorded, not thrown: the `lastError` code the reconciler writes when a stalled or failed record
   * has no attempt left under its `maxAttempts` and goes to `FAILED_FINAL` instead of a redelivery.
   */
  RETRIES_EXHAUSTED: 'WEFT_DISPATCH_RETRIES_EXHAUSTED',
  /**
   * Recorded, not thrown: recovery found a `SENT` record whose message is no longer in its queue
   * (a stream trimmed past an unacknowledged entry), so it could not redeliver it; the record goes
   * to `FAILED_FINAL`. Raise the queue's retention if you see it.
   */
  ENVELOPE_LOST: 'WEFT_DISPATCH_ENVELOPE_LOST',
} as const;

/** One of the {@link DispatchErrorCode} values. */
export type DispatchErrorCodeValue = (typeof DispatchErrorCode)[keyof typeof DispatchErrorCode];

/**
 * An idempotency-key input or a dispatch record key is unusable (`WEFT_DISPATCH_KEY_INVALID`).
 *
 * @example
 * ```ts
 * idempotencyKey({ pipeline: '', step: 'extract', businessKey: 'order-1', lineageIndex: 0 });
 * // throws DispatchKeyError: pipeline must be a non-empty string
 * ```
 */
export class DispatchKeyError extends WeftError {
  constructor(
    /** The offending part, e.g. `pipeline` or `executionId`. */
    readonly part: string,
    message: string,
  ) {
    super(DispatchErrorCode.KEY_INVALID, `dispatch key: ${part} ${message}`);
  }
}

/**
 * A dispatch store was given a malformed argument (`WEFT_DISPATCH_ARGUMENT_INVALID`): a negative
 * attempt, a result on a transition that does not end in `ACKED`, a terminal state in a scan, a
 * cursor the store did not hand out. Nothing was written.
 */
export class DispatchArgumentError extends WeftError {
  constructor(message: string) {
    super(DispatchErrorCode.ARGUMENT_INVALID, message);
  }
}

/**
 * A retry policy value is unusable (`WEFT_RETRY_POLICY_INVALID`): an unknown key, a negative or
 * non-integer count, a multiplier below 1, a cap below the first delay, an unknown jitter mode.
 * The message names the option and the range it accepts.
 */
export class RetryPolicyError extends WeftError {
  constructor(
    /** The offending option, e.g. `maxAttempts`. */
    readonly option: string,
    message: string,
  ) {
    super(DispatchErrorCode.RETRY_POLICY_INVALID, `retry policy: ${option} ${message}`);
  }
}
