import { DecoratorError, DecoratorErrorCode } from './errors';
import { assertFullName } from './output';
import { getMetadataStorage } from './storage';
import { EnumObject } from './types';

/**
 * Gives a TypeScript enum a stable protobuf full name.
 *
 * @remarks
 * Optional: an enum that is not registered is emitted as an enum nested in the first message that
 * uses it, named after the field (`Order.Status` for the field `status`). Register an enum that
 * several messages share, so that they agree on one type.
 *
 * Numeric enums keep their numbers. String enums are numbered 1, 2, 3… in declaration order, so
 * only append new members to a string enum. A proto3 enum must start at 0: when a numeric enum has
 * no 0 member, or for string enums, Weft adds `<ENUM>_UNSPECIFIED = 0`, which decodes as `undefined`.
 *
 * @example
 * ```ts
 * enum Status { Pending = 0, Shipped = 1 }
 * registerEnum(Status, 'shop.Status');
 * ```
 */
export function registerEnum<E extends EnumObject>(enumObject: E, fullName: string): E {
  assertFullName(fullName, 'enum', 'Enum');
  if (enumObject === null || typeof enumObject !== 'object') {
    throw new DecoratorError(DecoratorErrorCode.ENUM_INVALID, fullName, undefined, 'registerEnum expects a TypeScript enum object.');
  }
  getMetadataStorage().collectEnum({ enumObject, fullName });
  return enumObject;
}
