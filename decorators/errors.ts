/**
 * The root of every error Weft throws.
 *
 * @remarks
 * Branch on {@link WeftError.code}, never on the message text: codes are stable across releases,
 * messages are written for humans and may change. `cause` carries the underlying error when there
 * is one. The base class lives in `decorators/` because that layer imports nothing else of ours;
 * `core/errors` re-exports it together with every concrete error class.
 */
export class WeftError extends Error {
  /** A stable, machine-readable code such as `WEFT_DECODE_ERROR`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * A decorator was used in a way that cannot produce a valid schema: a duplicate or reserved field
 * number, a type that cannot be inferred or is not supported, a missing `reflect-metadata` import.
 *
 * @remarks
 * Raised when the decorator runs, or when the schema is first built from the class. The message
 * always names the class and the property, and says how to fix the declaration.
 */
export class DecoratorError extends WeftError {
  /** The class the faulty declaration belongs to. */
  readonly className: string;
  /** The property, when the fault is on a field. */
  readonly property?: string;

  constructor(code: string, className: string, property: string | undefined, message: string) {
    super(code, `${property === undefined ? className : `${className}.${property}`}: ${message}`);
    this.className = className;
    this.property = property;
  }
}

/** Error codes raised by the decorator layer. */
export const DecoratorErrorCode = {
  FIELD_NUMBER_DUPLICATE: 'WEFT_FIELD_NUMBER_DUPLICATE',
  FIELD_NUMBER_INVALID: 'WEFT_FIELD_NUMBER_INVALID',
  FIELD_NAME_CONFLICT: 'WEFT_FIELD_NAME_CONFLICT',
  FIELD_TYPE_UNINFERRABLE: 'WEFT_FIELD_TYPE_UNINFERRABLE',
  FIELD_TYPE_UNSUPPORTED: 'WEFT_FIELD_TYPE_UNSUPPORTED',
  FIELD_KEY_INVALID: 'WEFT_FIELD_KEY_INVALID',
  MESSAGE_NAME_INVALID: 'WEFT_MESSAGE_NAME_INVALID',
  MESSAGE_NAME_CONFLICT: 'WEFT_MESSAGE_NAME_CONFLICT',
  MESSAGE_NOT_DECORATED: 'WEFT_MESSAGE_NOT_DECORATED',
  ENUM_INVALID: 'WEFT_ENUM_INVALID',
  REFLECT_METADATA_MISSING: 'WEFT_REFLECT_METADATA_MISSING',
} as const;
