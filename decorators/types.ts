/**
 * The vocabulary `@Field` understands. Pure types and constants: no behaviour.
 */

/** Every proto3 scalar type, by its `.proto` name. */
export const SCALAR_TYPES = [
  'double', 'float',
  'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64',
  'fixed32', 'fixed64', 'sfixed32', 'sfixed64',
  'bool', 'string', 'bytes',
] as const;

/** A proto3 scalar type name. 64-bit integer types map to `bigint`, `bytes` to `Uint8Array`. */
export type ScalarType = (typeof SCALAR_TYPES)[number];

/** Scalars allowed as map keys (proto3 forbids floating point, bytes, enums and messages). */
export type MapKeyType = Exclude<ScalarType, 'double' | 'float' | 'bytes'>;

/** Any class constructor. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Ctor<T = unknown> = abstract new (...args: any[]) => T;

/**
 * Marks a property type that refers to a class declared later in the same file, so that
 * `emitDecoratorMetadata` does not reference the class before it exists (a TDZ `ReferenceError`
 * at load time). It is the type itself: `pong?: Ref<Pong>` is a `Pong`. Give the field a thunk too:
 * `@Field(2, () => Pong) pong?: Ref<Pong>`.
 */
export type Ref<T> = T;

/** A TypeScript enum object (numeric or string valued). */
export type EnumObject = Record<string, string | number>;

/**
 * One element type: a scalar name, a decorated `@Output` class, a TS enum object, or one of the
 * built-ins `String`, `Number` (→ `double`), `Boolean`, `BigInt` (→ `int64`), `Date`
 * (→ `google.protobuf.Timestamp`) and `Uint8Array` (→ `bytes`).
 */
export type TypeRef = ScalarType | Ctor | EnumObject | BigIntConstructor;

/** An element type, or a one-element array of it for a repeated field. */
export type TypeShape = TypeRef | readonly TypeRef[];

/**
 * What `@Field` accepts as its type: a shape directly (`'int64'`, `['string']`) or a thunk
 * returning one (`() => LineItem`, `() => [LineItem]`). Thunks are the main path: they survive
 * circular imports and compilers that drop `emitDecoratorMetadata`.
 */
export type TypeSpec = TypeShape | (() => TypeShape);

/** Options accepted by `@Field`. */
export interface FieldOptions {
  /** The field's type, when not given as the second argument. */
  type?: TypeSpec;
  /**
   * A map field: `[keyType, valueType]`. The value may be a list (`() => [LineItem]`), which is
   * carried in a generated wrapper message (see docs/schema.md).
   */
  map?: readonly [MapKeyType, TypeSpec];
  /**
   * For maps: the JS container. Defaults to what `design:type` says (`Map` or a plain object),
   * and to `Map` when there is no type metadata.
   */
  container?: 'map' | 'record';
  /** proto3 `optional`: presence is tracked, an unset field decodes as `undefined`. */
  optional?: boolean;
}

/** A field record as pushed by `@Field`: raw, unvalidated, resolved later by the schema builder. */
export interface FieldRecord {
  readonly target: Ctor;
  readonly property: string;
  readonly number: number;
  readonly type?: TypeSpec;
  readonly options: FieldOptions;
  /** `design:type` as emitted by the compiler, if any. */
  readonly designType?: unknown;
}

/** A message record as pushed by `@Output`. */
export interface MessageRecord {
  readonly target: Ctor;
  readonly fullName: string;
}

/** An enum registered with `registerEnum`. */
export interface EnumRecord {
  readonly enumObject: EnumObject;
  readonly fullName: string;
}
