import { WeftError } from '../decorators/errors';

export { WeftError, DecoratorError, DecoratorErrorCode } from '../decorators/errors';

/**
 * Every error code core raises. Callers branch on these; see docs/errors.md for what each means
 * and how to fix it.
 */
export const ErrorCode = {
  ENCODE_ERROR: 'WEFT_ENCODE_ERROR',
  DECODE_ERROR: 'WEFT_DECODE_ERROR',
  PAYLOAD_TOO_LARGE: 'WEFT_PAYLOAD_TOO_LARGE',
  VALIDATION_FAILED: 'WEFT_VALIDATION_FAILED',
  SCHEMA_NOT_FOUND: 'WEFT_SCHEMA_NOT_FOUND',
  SCHEMA_CORRUPT: 'WEFT_SCHEMA_CORRUPT',
  SCHEMA_INCOMPATIBLE: 'WEFT_SCHEMA_INCOMPATIBLE',
  SCHEMA_INVALID: 'WEFT_SCHEMA_INVALID',
  REGISTRY_CONFLICT: 'WEFT_REGISTRY_CONFLICT',
} as const;

/**
 * A value could not be encoded: a wrong JS type, an out-of-range number, an invalid Date (code
 * `WEFT_ENCODE_ERROR`), or the encoded message is over `maxPayloadBytes` (`WEFT_PAYLOAD_TOO_LARGE`).
 */
export class EncodeError extends WeftError {
  /** The field path, e.g. `items[2].quantity`. */
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? ErrorCode.ENCODE_ERROR, `cannot encode ${path || '<root>'}: ${message}`, options);
    this.path = path;
  }
}

/**
 * Bytes could not be decoded: truncated, malformed, too deeply nested, or over the size limit
 * (`code` is then `WEFT_PAYLOAD_TOO_LARGE`). Hostile input only ever produces this error.
 */
export class DecodeError extends WeftError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? ErrorCode.DECODE_ERROR, message, options);
  }
}

/** One failed constraint. */
export interface Violation {
  /** Path of the offending value from the root message, e.g. `items[0].sku`. */
  readonly path: string;
  /** The class-validator constraint name, e.g. `isEmail`. */
  readonly constraint: string;
  readonly message: string;
}

/** class-validator constraints failed. Every violation of the whole object graph is listed. */
export class ValidationError extends WeftError {
  readonly violations: readonly Violation[];
  constructor(messageName: string, direction: 'encode' | 'decode', violations: readonly Violation[]) {
    super(
      ErrorCode.VALIDATION_FAILED,
      `${messageName} failed validation on ${direction} (${violations.length} violation${violations.length === 1 ? '' : 's'}): ` +
        violations.map((v) => `${v.path || '<root>'}: ${v.message}`).join('; '),
    );
    this.violations = violations;
  }
}

/** A schema id is not in the registry's store. */
export class SchemaNotFoundError extends WeftError {
  constructor(readonly schemaId: string) {
    super(ErrorCode.SCHEMA_NOT_FOUND,
      `schema ${schemaId} is not in the schema store. The producer registers a schema before it sends ` +
      'a message that uses it: check that producer and consumer use the same store and key prefix.');
  }
}

/** Stored schema bytes do not hash to their id, or do not parse as a FileDescriptorProto. */
export class SchemaCorruptError extends WeftError {
  constructor(readonly schemaId: string, detail: string, options?: { cause?: unknown }) {
    super(ErrorCode.SCHEMA_CORRUPT,
      `schema ${schemaId} in the store is corrupt: ${detail}. Delete the entry so that the producer ` +
      're-registers it, and check what else writes to the schema hash.', options);
  }
}

/** A schema descriptor cannot be turned into a model (for example a type Weft does not support). */
export class SchemaInvalidError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.SCHEMA_INVALID, message, options);
  }
}

/** One broken compatibility rule. */
export interface CompatibilityIssue {
  /** The message holding the field, e.g. `shop.Order`. */
  readonly message: string;
  /** The field name and number, e.g. `total (2)`; empty for message-level issues. */
  readonly field: string;
  /** A stable rule id, e.g. `FIELD_TYPE_CHANGED`. */
  readonly rule: string;
  /** What is wrong, in words. */
  readonly detail: string;
  /** The version compared against. */
  readonly againstVersion?: number;
}

/** A new schema breaks its subject's compatibility mode and was refused. */
export class SchemaIncompatibleError extends WeftError {
  constructor(readonly subject: string, readonly mode: string, readonly issues: readonly CompatibilityIssue[]) {
    super(ErrorCode.SCHEMA_INCOMPATIBLE,
      `schema for ${subject} breaks compatibility mode ${mode}: ` +
      issues.map((i) => `${i.message}${i.field ? '.' + i.field : ''} [${i.rule}] ${i.detail}` +
        (i.againstVersion === undefined ? '' : ` (vs version ${i.againstVersion})`)).join('; ') +
      '. Keep field numbers and wire types stable, or change the subject\'s mode if the break is intended.');
  }
}
