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

/**
 * What a task instance looks like: a `run(input, ctx)` method. The context type is left open here
 * (`decorators/` knows nothing of the runtime); the runtime passes its `TaskContext`.
 *
 * @example
 * ```ts
 * class Extract implements TaskInstance<ExtractRequest, ExtractedRows> {
 *   async run(input: ExtractRequest): Promise<ExtractedRows> { ... }
 * }
 * ```
 */
export interface TaskInstance<I = any, O = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  run(input: I, ctx: any): O | Promise<O>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * A concrete class whose instances are tasks. Constructor parameters are free: the runtime builds
 * the instance through the DI container.
 *
 * @example
 * ```ts
 * const tasks: TaskClass[] = [Extract, Load];
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskClass<I = any, O = any> = new (...args: any[]) => TaskInstance<I, O>;

/**
 * The input type of a task class: the type of `run`'s first parameter.
 *
 * @example
 * ```ts
 * type In = TaskInput<typeof Extract>;   // ExtractRequest
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskInput<C> = C extends new (...args: any[]) => { run(input: infer I, ...rest: any[]): any } ? I : never;

/**
 * The output type of a task class: what `run` resolves to.
 *
 * @example
 * ```ts
 * type Out = TaskOutput<typeof Extract>; // ExtractedRows (not Promise<ExtractedRows>)
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskOutput<C> = C extends new (...args: any[]) => { run(...args: any[]): infer R } ? Awaited<R> : never;

/**
 * Options accepted by `@Task`. `I` and `O` are the instance types of the input and output classes;
 * the decorator checks at compile time that `run` returns `O`.
 */
export interface TaskOptions<I = any, O = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The task's version: a positive integer, 1 by default. `name@version` is its wire identity. */
  version?: number;
  /**
   * The queue the task is published to: letters, digits, `_`, `.` and `-` only (no braces: the
   * name goes inside a Redis Cluster hash tag). `'default'` by default.
   */
  queue?: string;
  /**
   * The input class (an `@Output` class), lazily. When omitted, it is read from the
   * `design:paramtypes` of `run`, which TypeScript emits only when `run` carries a decorator:
   * put `@Run()` on it.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  input?: () => abstract new (...args: any[]) => I;
  /**
   * The output class (an `@Output` class), lazily. Required: `Promise<T>` erases `T` at runtime,
   * so it can never be inferred.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  output: () => abstract new (...args: any[]) => O;
  /** How many times the runtime retries a retryable failure (a non-negative integer). Recorded only. */
  retries?: number;
  /** How long one run may take, in milliseconds (a positive integer). Recorded only. */
  timeoutMs?: number;
}

/** A task record as pushed by `@Task`: checked for shape, resolved into a definition by core. */
export interface TaskRecord {
  readonly target: Ctor;
  /** The stable wire name, e.g. `etl.extract`. */
  readonly name: string;
  readonly version: number;
  readonly queue: string;
  /** The explicit input thunk, if one was given. */
  readonly input?: () => Ctor;
  readonly output: () => Ctor;
  /** `design:paramtypes[0]` of `run`, as emitted by the compiler, if any. */
  readonly inputDesignType?: unknown;
  readonly retries?: number;
  readonly timeoutMs?: number;
}
