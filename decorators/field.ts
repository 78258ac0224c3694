import { DecoratorError, DecoratorErrorCode } from './errors';
import { hasReflectMetadata, readDesignType } from './keys';
import { getMetadataStorage } from './storage';
import { Ctor, FieldOptions, TypeSpec } from './types';

/** The largest field number protobuf allows: 2^29 − 1. */
export const MAX_FIELD_NUMBER = 536_870_911;
/** Field numbers reserved by the protobuf implementation. */
export const RESERVED_FIELD_NUMBERS = { from: 19_000, to: 19_999 } as const;

/** Why a field number is unusable, or `undefined` when it is fine. */
export function fieldNumberProblem(n: unknown): string | undefined {
  if (typeof n !== 'number' || !Number.isInteger(n)) return `field number ${String(n)} is not an integer`;
  if (n < 1) return `field number ${n} is invalid: numbers start at 1`;
  if (n > MAX_FIELD_NUMBER) return `field number ${n} is above the protobuf maximum ${MAX_FIELD_NUMBER} (2^29-1)`;
  if (n >= RESERVED_FIELD_NUMBERS.from && n <= RESERVED_FIELD_NUMBERS.to) {
    return `field number ${n} is in the range 19000-19999 that protobuf reserves for itself`;
  }
  return undefined;
}

function isOptionsObject(x: unknown): x is FieldOptions {
  return typeof x === 'object' && x !== null && !Array.isArray(x) &&
    ('type' in x || 'map' in x || 'optional' in x || 'container' in x);
}

/**
 * Marks a property as a field of its `@Output` message.
 *
 * @param number - The protobuf field number: 1 to 2^29−1, not 19000–19999, unique in the class.
 *   Never renumber a field that has shipped: the number is its identity on the wire.
 * @param typeOrOptions - The type (`'int64'`, `() => LineItem`, `() => [LineItem]`, `['string']`),
 *   or the options object. When the type is omitted, it is inferred from `design:type` for
 *   `string`, `number` (→ `double`), `boolean`, `bigint` (→ `int64`), `Date`, `Uint8Array` and
 *   `@Output` classes. Arrays, maps, enums, unions and aliases need an explicit type.
 * @param options - Options when the second argument is a type.
 *
 * @example
 * ```ts
 * @Output('shop.Order')
 * class Order {
 *   @Field(1) id!: string;
 *   @Field(2, 'int64') total!: bigint;
 *   @Field(3, () => [LineItem]) items!: LineItem[];
 *   @Field(4, { map: ['string', () => [LineItem]] }) byWarehouse!: Map<string, LineItem[]>;
 *   @Field(5) placedAt!: Date;
 *   @Field(6, { optional: true }) note?: string;
 * }
 * ```
 */
export function Field(number: number, typeOrOptions?: TypeSpec | FieldOptions, options?: FieldOptions): PropertyDecorator {
  return (prototype, key) => {
    const target = (typeof prototype === 'function' ? prototype : prototype.constructor) as Ctor;
    const className = target.name || '<anonymous class>';
    if (typeof key !== 'string') {
      throw new DecoratorError(DecoratorErrorCode.FIELD_KEY_INVALID, className, String(key),
        '@Field cannot decorate a symbol-keyed property; use a string property name.');
    }
    if (typeof prototype === 'function') {
      throw new DecoratorError(DecoratorErrorCode.FIELD_KEY_INVALID, className, key,
        '@Field cannot decorate a static property; remove `static`.');
    }
    const problem = fieldNumberProblem(number);
    if (problem) {
      throw new DecoratorError(DecoratorErrorCode.FIELD_NUMBER_INVALID, className, key,
        `${problem}. Pick an unused number from 1 to 18999 or 20000 to ${MAX_FIELD_NUMBER}.`);
    }
    const storage = getMetadataStorage();
    for (const other of storage.ownFields(target)) {
      if (other.number === number) {
        throw new DecoratorError(DecoratorErrorCode.FIELD_NUMBER_DUPLICATE, className, key,
          `field number ${number} is already used by '${other.property}'. Each field needs its own number.`);
      }
      if (other.property === key) {
        throw new DecoratorError(DecoratorErrorCode.FIELD_NUMBER_DUPLICATE, className, key,
          'the property is decorated with @Field twice.');
      }
    }
    const opts: FieldOptions = isOptionsObject(typeOrOptions) ? { ...typeOrOptions, ...options } : { ...options };
    const type = isOptionsObject(typeOrOptions) ? typeOrOptions.type : typeOrOptions ?? opts.type;
    const designType = readDesignType(prototype, key);
    if (type === undefined && opts.map === undefined && designType === undefined) {
      throw new DecoratorError(
        hasReflectMetadata() ? DecoratorErrorCode.FIELD_TYPE_UNINFERRABLE : DecoratorErrorCode.REFLECT_METADATA_MISSING,
        className, key,
        hasReflectMetadata()
          ? 'the type cannot be inferred (no design:type metadata: is emitDecoratorMetadata on, or does your ' +
            "compiler drop it, as esbuild and tsx do?). Give it explicitly: @Field(n, 'string') or @Field(n, () => Type)."
          : "the type cannot be inferred because reflect-metadata is not loaded. Add `import 'reflect-metadata'` " +
            "at the top of your entry file, or give the type explicitly: @Field(n, 'string') or @Field(n, () => Type).",
      );
    }
    storage.collectField({ target, property: key, number, type, options: opts, designType });
  };
}
