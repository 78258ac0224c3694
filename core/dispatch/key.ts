import { DispatchKeyError } from './errors';

/**
 * The identity of one dispatch record: `(executionId, stepId, idempotencyKey)`, as seed 002 keys
 * per-item durable state. Two records with the same three parts are the same record.
 */
export interface DispatchKey {
  /** The execution (one run of a pipeline) the item belongs to. */
  readonly executionId: string;
  /** The step of the pipeline that dispatches the item. */
  readonly stepId: string;
  /** The item's deterministic idempotency key, normally from {@link idempotencyKey}. */
  readonly idempotencyKey: string;
}

/** The longest key part, in UTF-16 code units, that Weft accepts. */
export const MAX_KEY_PART_LENGTH = 1024;

/** Matches an unpaired UTF-16 surrogate (with the `u` flag a surrogate pair is one code point). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Throws {@link DispatchKeyError} unless `value` is a non-empty, well-formed string of at most
 * {@link MAX_KEY_PART_LENGTH} code units. Lone surrogates are refused because they do not survive
 * UTF-8 encoding: two different strings would map to the same bytes.
 * @internal
 */
export function checkKeyPart(part: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new DispatchKeyError(part, `must be a non-empty string, got ${describeValue(value)}`);
  }
  if (value.length > MAX_KEY_PART_LENGTH) {
    throw new DispatchKeyError(part, `is ${value.length} characters long; the limit is ${MAX_KEY_PART_LENGTH}`);
  }
  if (LONE_SURROGATE.test(value)) {
    throw new DispatchKeyError(part, 'contains an unpaired UTF-16 surrogate; pass well-formed Unicode');
  }
}

/** Throws {@link DispatchKeyError} unless all three parts of `key` are valid key parts. */
export function checkDispatchKey(key: DispatchKey): void {
  if (typeof key !== 'object' || key === null) throw new DispatchKeyError('key', `must be an object, got ${describeValue(key)}`);
  checkKeyPart('executionId', key.executionId);
  checkKeyPart('stepId', key.stepId);
  checkKeyPart('idempotencyKey', key.idempotencyKey);
}

/** A readable, unambiguous rendering of a record key for messages and logs. */
export function formatDispatchKey(key: DispatchKey): string {
  return `(executionId=${JSON.stringify(key.executionId)}, stepId=${JSON.stringify(key.stepId)}, ` +
    `idempotencyKey=${JSON.stringify(key.idempotencyKey)})`;
}

/** @internal */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}
