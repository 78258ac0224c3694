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
