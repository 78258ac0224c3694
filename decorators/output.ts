import { DecoratorError, DecoratorErrorCode } from './errors';
import { getMetadataStorage } from './storage';
import { Ctor } from './types';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * Checks a fully-qualified protobuf name (`shop.Order`) and throws a coded error naming the class.
 * @internal
 */
export function assertFullName(fullName: unknown, className: string, what: string): asserts fullName is string {
  if (typeof fullName !== 'string' || !NAME_RE.test(fullName)) {
    throw new DecoratorError(
      DecoratorErrorCode.MESSAGE_NAME_INVALID,
      className,
      undefined,
      `${what} name ${JSON.stringify(fullName)} is not a valid protobuf full name. ` +
        `Use dot-separated identifiers such as 'shop.Order' (package 'shop', message 'Order').`,
    );
  }
}

/**
 * Marks a class as a message that tasks exchange, and gives it its stable wire name.
 *
 * @param fullName - The fully-qualified protobuf name, e.g. `'shop.Order'`: everything before the
 *   last dot is the package. It is the schema's subject in the registry and must never be derived
 *   from `constructor.name`, which minifiers rename.
 *
 * @example
 * ```ts
 * @Output('shop.LineItem')
 * class LineItem {
 *   @Field(1) sku!: string;
 *   @Field(2, 'uint32') quantity!: number;
 * }
 * ```
 */
export function Output(fullName: string): ClassDecorator {
  return (target) => {
    const className = (target as { name?: string }).name || '<anonymous class>';
    assertFullName(fullName, className, 'Message');
    const storage = getMetadataStorage();
    const existing = storage.messageByName(fullName);
    if (existing && (existing.target as unknown) !== target) {
      throw new DecoratorError(
        DecoratorErrorCode.MESSAGE_NAME_CONFLICT,
        className,
        undefined,
        `the name '${fullName}' is already used by class ${existing.target.name}. ` +
          'Every @Output class needs its own full name.',
      );
    }
    storage.collectMessage({ target: target as unknown as Ctor, fullName });
  };
}
