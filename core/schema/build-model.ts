import { DecoratorError, DecoratorErrorCode } from '../../decorators/errors';
import { getMetadataStorage } from '../../decorators/storage';
import {
  Ctor, EnumObject, FieldRecord, MapKeyType, SCALAR_TYPES, ScalarType, TypeRef, TypeShape, TypeSpec,
} from '../../decorators/types';
import {
  ElementModel, EnumModel, EnumValueModel, FieldModel, MapModel, MessageModel, toPascalCase, toSnakeCase, toUpperSnake,
  splitFullName,
} from './model';

const SCALARS = new Set<string>(SCALAR_TYPES);
const MAP_KEYS = new Set<string>(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64',
  'sfixed32', 'sfixed64', 'bool', 'string']);

const BUILTINS = new Map<unknown, ElementModel>([
  [String, { kind: 'scalar', scalar: 'string' }],
  [Number, { kind: 'scalar', scalar: 'double' }],
  [Boolean, { kind: 'scalar', scalar: 'bool' }],
  [BigInt, { kind: 'scalar', scalar: 'int64' }],
  [Uint8Array, { kind: 'scalar', scalar: 'bytes' }],
  [Buffer, { kind: 'scalar', scalar: 'bytes' }],
  [Date, { kind: 'timestamp' }],
]);

const messageCache = new WeakMap<Ctor, MessageModel>();
const enumCache = new WeakMap<EnumObject, EnumModel>();

type Fail = (code: string, message: string) => never;

function isThunk(spec: unknown): spec is () => TypeShape {
  // Arrow functions have no prototype; classes and built-in constructors do.
  return typeof spec === 'function' && !Object.prototype.hasOwnProperty.call(spec, 'prototype');
}

function isEnumObject(x: unknown): x is EnumObject {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Builds (once, then cached) the schema model of an `@Output` class and of every type it reaches.
 *
 * @throws DecoratorError when a declaration cannot produce a valid schema; the message names the
 *   class, the property and the fix.
 */
export function buildMessageModel(ctor: Ctor): MessageModel {
  const cached = messageCache.get(ctor);
  if (cached) return cached;
  const storage = getMetadataStorage();
  const record = storage.message(ctor);
  const className = ctor.name || '<anonymous class>';
  if (!record) {
    throw new DecoratorError(DecoratorErrorCode.MESSAGE_NOT_DECORATED, className, undefined,
      `the class is not marked with @Output. Add @Output('package.${className}') to it.`);
  }
  const model: MessageModel = { kind: 'message', fullName: record.fullName, fields: [], ctor };
  messageCache.set(ctor, model);
  try {
    fillFields(model, ctor, className);
  } catch (e) {
    messageCache.delete(ctor);
    throw e;
  }
  return model;
}

function ownAndInheritedFields(ctor: Ctor): FieldRecord[] {
  const chain: Ctor[] = [];
  for (let c: unknown = ctor; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    chain.unshift(c as Ctor);
  }
  const storage = getMetadataStorage();
  return chain.flatMap((c) => [...storage.ownFields(c)]);
}

function fillFields(model: MessageModel, ctor: Ctor, className: string): void {
  const byNumber = new Map<number, string>();
  const byName = new Map<string, string>();
  const fields: FieldModel[] = [];
  for (const rec of ownAndInheritedFields(ctor)) {
    const fail: Fail = (code, message) => {
      throw new DecoratorError(code, className, rec.property, message);
    };
    const prev = byNumber.get(rec.number);
    if (prev !== undefined) {
      fail(DecoratorErrorCode.FIELD_NUMBER_DUPLICATE,
        `field number ${rec.number} is already used by '${prev}' (possibly in a parent class). Each field needs its own number.`);
    }
    byNumber.set(rec.number, rec.property);
    const name = toSnakeCase(rec.property);
    const clash = byName.get(name);
    if (clash !== undefined) {
      fail(DecoratorErrorCode.FIELD_NAME_CONFLICT,
        `its .proto name '${name}' is the same as that of '${clash}'. Rename one of the properties.`);
    }
    byName.set(name, rec.property);
    fields.push(buildField(model, rec, name, fail));
  }
  fields.sort((a, b) => a.number - b.number);
  model.fields.push(...fields);
}

function buildField(owner: MessageModel, rec: FieldRecord, name: string, fail: Fail): FieldModel {
  const optional = rec.options.optional === true;
  if (rec.options.map) {
    if (optional) fail(DecoratorErrorCode.FIELD_TYPE_UNSUPPORTED, 'a map field cannot be optional: an empty map is its unset state.');
    const map = buildMap(owner, rec, name, fail);
    return { name, property: rec.property, number: rec.number, element: map.value, repeated: false, optional, map };
  }
  const shape = resolveSpec(rec.type, rec.designType, fail);
  const repeated = Array.isArray(shape);
  if (repeated && optional) {
    fail(DecoratorErrorCode.FIELD_TYPE_UNSUPPORTED, 'a repeated field cannot be optional: an empty list is its unset state.');
  }
  const ref = repeated ? (shape as readonly TypeRef[])[0] : (shape as TypeRef);
  const element = resolveRef(ref, owner, rec, fail);
  return { name, property: rec.property, number: rec.number, element, repeated, optional };
}

function resolveSpec(spec: TypeSpec | undefined, designType: unknown, fail: Fail): TypeShape {
  if (spec === undefined) return inferFromDesignType(designType, fail);
  let shape: unknown = spec;
  if (isThunk(spec)) {
    try {
      shape = spec();
    } catch (e) {
      fail(DecoratorErrorCode.FIELD_TYPE_UNINFERRABLE, `the type thunk threw: ${(e as Error).message}`);
    }
    if (shape === undefined || shape === null) {
      fail(DecoratorErrorCode.FIELD_TYPE_UNINFERRABLE,
        'the type thunk returned undefined. This usually means a circular import that was not finished ' +
        'loading; keep the thunk form `() => Type` and make sure the module defining Type is imported.');
    }
  }
  if (Array.isArray(shape)) {
    if (shape.length !== 1) fail(DecoratorErrorCode.FIELD_TYPE_UNSUPPORTED, 'a list type is written [ElementType] with exactly one element.');
    if (Array.isArray(shape[0])) {
      fail(DecoratorErrorCode.FIELD_TYPE_UNSUPPORTED,
        'lists of lists are not supported by protobuf. Wrap the inner list in an @Output class.');
    }
  }
  return shape as TypeShape;
}

function inferFromDesignType(designType: unknown, fail: Fail): TypeShape {
  if (designType === Array) {
    fail(DecoratorErrorCode.FIELD_TYPE_UNINFERRABLE,
      "the element type of an array cannot be inferred. Write @Field(n, () => [ElementType]) or @Field(n, ['string']).");
  }
  if (designType === Map) {
    fail(DecoratorErrorCode.FIELD_TYPE_UNINFERRABLE,
      "a Map needs its key and value types. Write @Field(n, { map: ['string', () => ValueType] }).");
  }
  if (designType === Object || designType === undefined) {
    fail(DecoratorErrorCode.FIELD_TYPE_UNINFERRABLE,
      'the type cannot be inferred (an interface, union, type alias, enum or `any` all reflect as Object). ' +
      "Give it explicitly: @Field(n, 'int32'), @Field(n, () => MyClass) or @Field(n, () => MyEnum).");
  }
  return designType as TypeShape;
}

function resolveRef(ref: TypeRef, owner: MessageModel, rec: FieldRecord, fail: Fail): ElementModel {
  if (typeof ref === 'string') {
    if (!SCALARS.has(ref)) {
      fail(DecoratorErrorCode.FIELD_TYPE_UNSUPPORTED,
        `'${ref}' is not a protobuf scalar. Use one of: ${SCALAR_TYPES.join(', ')}.`);
    }
    return { kind: 'scalar', scalar: ref as ScalarType };
  }
  if (typeof ref === 'function') {
    const builtin = BUILTINS.get(ref);
    if (builtin) return builtin;
    if (!getMetadataStorage().message(ref as Ctor)) {
      fail(DecoratorErrorCode.FIELD_TYPE_UNSUPPORTED,
        `the type ${(ref as Ctor).name || '<anonymous>'} is not supported: it is neither a scalar nor an @Output class. ` +
        'Mark it with @Output, or pick a scalar type.');
    }
    return { kind: 'message', message: buildMessageModel(ref as Ctor) };
  }
  if (isEnumObject(ref)) return { kind: 'enum', enum: buildEnumModel(ref, owner, rec, fail) };
  return fail(DecoratorErrorCode.FIELD_TYPE_UNSUPPORTED, `unsupported type ${String(ref)}.`);
}

function buildMap(owner: MessageModel, rec: FieldRecord, name: string, fail: Fail): MapModel {
  const [key, valueSpec] = rec.options.map!;
  if (!MAP_KEYS.has(key as string)) {
    fail(DecoratorErrorCode.FIELD_TYPE_UNSUPPORTED,
      `'${String(key)}' cannot be a map key. Protobuf map keys are string, bool or an integer type.`);
  }
  const shape = resolveSpec(valueSpec, undefined, fail);
  const container = rec.options.container ?? (rec.designType === Object ? 'record' : 'map');
  if (Array.isArray(shape)) {
    const value = resolveRef(shape[0], owner, rec, fail);
    const listWrapper: MessageModel = {
      kind: 'message',
      fullName: `${owner.fullName}.${toPascalCase(name)}List`,
      fields: [{ name: 'values', property: 'values', number: 1, element: value, repeated: true, optional: false }],
      listWrapper: true,
    };
    return { key: key as MapKeyType, value: { kind: 'message', message: listWrapper }, listWrapper, container };
  }
  return { key: key as MapKeyType, value: resolveRef(shape as TypeRef, owner, rec, fail), container };
}

function buildEnumModel(obj: EnumObject, owner: MessageModel, rec: FieldRecord, fail: Fail): EnumModel {
  const registered = getMetadataStorage().enumRecord(obj);
  if (registered) {
    const cached = enumCache.get(obj);
    if (cached) return cached;
  }
  const fullName = registered?.fullName ?? `${owner.fullName}.${toPascalCase(toSnakeCase(rec.property))}`;
  const prefix = toUpperSnake(splitFullName(fullName).name);
  // Drop TypeScript's reverse mappings of numeric members (`E[1] = 'A'`, and `E['-3'] = 'C'` for negatives).
  const members = Object.keys(obj).filter((k) => !(typeof obj[k] === 'string' && obj[obj[k]] === Number(k)));
  if (members.length === 0) fail(DecoratorErrorCode.ENUM_INVALID, `enum ${fullName} has no members.`);
  const kinds = new Set(members.map((k) => typeof obj[k]));
  if (kinds.size !== 1) {
    fail(DecoratorErrorCode.ENUM_INVALID, `enum ${fullName} mixes string and number values; use one kind.`);
  }
  const stringValued = kinds.has('string');
  const values: EnumValueModel[] = [];
  const seenNames = new Set<string>();
  const seenNumbers = new Map<number, string>();
  members.forEach((k, i) => {
    const num = stringValued ? i + 1 : (obj[k] as number);
    if (!Number.isInteger(num) || num < -2147483648 || num > 2147483647) {
      fail(DecoratorErrorCode.ENUM_INVALID, `enum ${fullName} member ${k} = ${num} is not a 32-bit integer.`);
    }
    const dup = seenNumbers.get(num);
    if (dup !== undefined) {
      fail(DecoratorErrorCode.ENUM_INVALID, `enum ${fullName} members ${dup} and ${k} share the number ${num}; aliases are not supported.`);
    }
    seenNumbers.set(num, k);
    const valueName = `${prefix}_${toUpperSnake(k)}`;
    if (seenNames.has(valueName)) fail(DecoratorErrorCode.ENUM_INVALID, `enum ${fullName} has two members named like ${valueName}.`);
    seenNames.add(valueName);
    values.push({ name: valueName, number: num, jsValue: obj[k] });
  });
  if (!seenNumbers.has(0)) {
    const unspecified = `${prefix}_UNSPECIFIED`;
    if (seenNames.has(unspecified)) fail(DecoratorErrorCode.ENUM_INVALID, `enum ${fullName} needs a 0 member; name one.`);
    values.push({ name: unspecified, number: 0, jsValue: undefined });
  }
  // proto3: the first value must be 0; the rest follow in number order.
  values.sort((a, b) => (a.number === 0 ? -1 : b.number === 0 ? 1 : a.number - b.number));
  const model: EnumModel = { kind: 'enum', fullName, values, stringValued };
  if (registered) enumCache.set(obj, model);
  return model;
}
