import * as crypto from 'node:crypto';

/** SHA-256 of a string's UTF-8, as hex: the one-shot `crypto.hash` where Node has it (4× cheaper), else a Hash object. */
const sha256Hex: (text: string) => string = typeof (crypto as { hash?: unknown }).hash === 'function'
  ? (text) => (crypto as unknown as { hash(alg: string, data: string, enc: 'hex'): string }).hash('sha256', text, 'hex')
  : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');
import { DispatchKeyError } from './errors';
import { checkKeyPart } from './key';

/** The stable work identity an idempotency key is derived from (seed 002). */
export interface IdempotencyInput {
  /** The pipeline's stable name, e.g. `shop.orders`. */
  readonly pipeline: string;
  /** The step's stable name within the pipeline, e.g. `extract`. */
  readonly step: string;
  /** The business key of the item, e.g. an order id. */
  readonly businessKey: string;
  /**
   * The item's position in its lineage: 0 for a step's only (or first) output for the business
   * key, then 1, 2, ... when one input fans out into several items. A non-negative safe integer.
   */
  readonly lineageIndex: number;
}

/** Length of an idempotency key, in lowercase hex digits (128 bits). */
export const IDEMPOTENCY_KEY_HEX_LENGTH = 32;

/** The domain tag hashed in front of the parts; bump `v1` only together with the documented rule. */
export const IDEMPOTENCY_KEY_DOMAIN = 'weft.idempotency.v1';

/**
 * The deterministic idempotency key of one unit of work.
 *
 * @remarks
 * The rule (also in docs/dispatch.md), so that any language can recompute it:
 *
 * 1. Take the parts in this order: `pipeline`, `step`, `businessKey`, and `lineageIndex` written
 *    in base 10 with no sign, no leading zeros and no exponent (`0`, `7`, `12`).
 * 2. Encode each part as `<n>:<bytes>` where `<bytes>` is the part's UTF-8 and `<n>` is its byte
 *    length in base 10. The length prefix makes the encoding injective: `('a', 'bc')` and
 *    `('ab', 'c')` give different bytes.
 * 3. Hash `weft.idempotency.v1` + `\n` + the four encoded parts concatenated, with SHA-256.
 * 4. The key is the first 32 lowercase hex digits (128 bits) of the digest.
 *
 * Strings are hashed exactly as given (no trimming, no case folding, no Unicode normalization).
 * The same inputs give the same key on every machine and in every release; nothing random or
 * time-based enters it.
 *
 * @example
 * ```ts
 * idempotencyKey({ pipeline: 'shop.orders', step: 'extract', businessKey: 'order-1', lineageIndex: 0 });
 * // -> a 32-digit lowercase hex string, the same every time
 * ```
 *
 * @throws {@link DispatchKeyError} (`WEFT_DISPATCH_KEY_INVALID`) when a string part is empty,
 *   not a string, longer than 1024 characters or not well-formed Unicode, or when `lineageIndex`
 *   is not a non-negative safe integer.
 */
export function idempotencyKey(input: IdempotencyInput): string {
  if (typeof input !== 'object' || input === null) {
    throw new DispatchKeyError('input', 'must be an object with pipeline, step, businessKey and lineageIndex');
  }
  const { pipeline, step, businessKey, lineageIndex } = input;
  checkKeyPart('pipeline', pipeline);
  checkKeyPart('step', step);
  checkKeyPart('businessKey', businessKey);
  if (typeof lineageIndex !== 'number' || !Number.isSafeInteger(lineageIndex) || lineageIndex < 0) {
    throw new DispatchKeyError('lineageIndex', `must be a non-negative safe integer, got ${String(lineageIndex)}`);
  }
  const index = String(lineageIndex);
  // One string, hashed as UTF-8 in one call: the same bytes as hashing each length prefix and part.
  const text = `${IDEMPOTENCY_KEY_DOMAIN}\n${Buffer.byteLength(pipeline, 'utf8')}:${pipeline}${Buffer.byteLength(step, 'utf8')}:${step}` +
    `${Buffer.byteLength(businessKey, 'utf8')}:${businessKey}${index.length}:${index}`;
  return sha256Hex(text).slice(0, IDEMPOTENCY_KEY_HEX_LENGTH);
}

/** True when `value` has the shape of an {@link idempotencyKey} result (32 lowercase hex digits). */
export function isIdempotencyKey(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{32}$/.test(value);
}
