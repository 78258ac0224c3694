/**
 * Absolute deadlines (epoch ms), as seed 002 requires: a deadline is a point in time, never a
 * duration, so every machine and every transport evaluates it the same way. `undefined` means
 * "no deadline".
 *
 * @packageDocumentation
 */
import { DispatchArgumentError } from './errors';
import { describeValue } from './key';

/** Throws `DispatchArgumentError` unless `value` is `undefined` or a non-negative integer epoch ms. @internal */
export function checkDeadline(what: string, value: unknown): asserts value is number | undefined {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new DispatchArgumentError(`${what} must be an absolute deadline (non-negative integer epoch ms) or undefined, got ${describeValue(value)}`);
  }
}

/** Throws `DispatchArgumentError` unless `nowMs` is a finite number. @internal */
export function checkNow(nowMs: unknown): asserts nowMs is number {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
    throw new DispatchArgumentError(`nowMs must be a finite number (epoch ms), got ${describeValue(nowMs)}`);
  }
}

/**
 * The deadline of a child dispatch: the earlier of its parent's deadline and the one it asks for.
 * A child never outlives its parent; `undefined` only when neither has a deadline.
 *
 * @throws `DispatchArgumentError` (`WEFT_DISPATCH_ARGUMENT_INVALID`) for a value that is not an
 *   absolute epoch-ms integer.
 */
export function childDeadline(parentDeadlineMs?: number, requestedMs?: number): number | undefined {
  checkDeadline('parentDeadlineMs', parentDeadlineMs);
  checkDeadline('requestedMs', requestedMs);
  if (parentDeadlineMs === undefined) return requestedMs;
  if (requestedMs === undefined) return parentDeadlineMs;
  return Math.min(parentDeadlineMs, requestedMs);
}

/** True once `nowMs` has reached the deadline (`nowMs >= deadlineMs`); always false without one. */
export function isExpired(deadlineMs: number | undefined, nowMs: number): boolean {
  checkDeadline('deadlineMs', deadlineMs);
  checkNow(nowMs);
  return deadlineMs !== undefined && nowMs >= deadlineMs;
}

/** Ms left until the deadline, never negative; `Infinity` without a deadline. */
export function remainingMs(deadlineMs: number | undefined, nowMs: number): number {
  checkDeadline('deadlineMs', deadlineMs);
  checkNow(nowMs);
  return deadlineMs === undefined ? Number.POSITIVE_INFINITY : Math.max(0, deadlineMs - nowMs);
}
