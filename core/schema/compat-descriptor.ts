import type { ScalarType } from '../../decorators/types';
import { SchemaInvalidError } from '../errors';
import { decodeFileDescriptor, FIELD_TYPE, LABEL, TIMESTAMP_TYPE } from './descriptor';

/**
 * A wire-level view of a stored schema, built from serialized `FileDescriptorProto` bytes alone.
 * The compatibility checker compares these; it never needs the user's classes.
 *
 * @remarks
 * This is deliberately not the codec's `MessageModel`: it keeps exactly what the wire depends on
 * (numbers, wire types, labels, map entries, enum numbers) plus names for messages in reports, and
 * nothing about JS containers or class instances.
 */

/** The type of a field as the wire sees it. */
export type CompatType =
  | { readonly kind: 'scalar'; readonly scalar: ScalarType }
  | { readonly kind: 'enum'; readonly enum: CompatEnum }
  | { readonly kind: 'message'; readonly message: CompatMessage }
  /** proto2 groups: never emitted by Weft, compatible only with another group. */
  | { readonly kind: 'group' };

/** One field of a parsed message. */
export interface CompatField {
  /** The `.proto` field name (for reports only: names never reach the wire). */
  readonly name: string;
  readonly number: number;
  readonly type: CompatType;
  /** Label `repeated` (map fields are repeated map-entry messages). */
  readonly repeated: boolean;
  /** proto3 `optional` (explicit presence through a synthetic oneof). */
  readonly optional: boolean;
}

/** One parsed message. */
export interface CompatMessage {
  /** Fully-qualified name as written in the file, without the leading dot. */
  readonly fullName: string;
  /** Fields sorted by number. */
  readonly fields: CompatField[];
  /** Fields by number. */
  readonly byNumber: Map<number, CompatField>;
  /** True for a generated map entry (`option map_entry = true`): field 1 is the key, 2 the value. */
  readonly mapEntry: boolean;
}

/** One parsed enum. */
export interface CompatEnum {
  readonly fullName: string;
  readonly values: readonly { readonly name: string; readonly number: number }[];
}

/** A whole parsed file: every message and enum it defines, by full name. */
export interface CompatSchema {
  readonly package: string;
  readonly messages: ReadonlyMap<string, CompatMessage>;
  readonly enums: ReadonlyMap<string, CompatEnum>;
}

/* Loose shapes of what `decodeFileDescriptor` returns (every key may be missing). */
interface RawField {
  name?: string; number?: number; label?: number; type?: number; typeName?: string;
  oneofIndex?: number; proto3Optional?: boolean;
}
interface RawEnum { name?: string; value?: { name?: string; number?: number }[] }
interface RawMessage {
  name?: string; field?: RawField[]; nestedType?: RawMessage[]; enumType?: RawEnum[];
  options?: { mapEntry?: boolean };
}
interface RawFile { package?: string; messageType?: RawMessage[]; enumType?: RawEnum[] }

const SCALAR_BY_NUMBER = new Map<number, ScalarType>(
  (Object.entries(FIELD_TYPE) as [string, number][])
    .filter(([name]) => name !== 'group' && name !== 'message' && name !== 'enum')
    .map(([name, n]) => [n, name as ScalarType]),
);

/** `google.protobuf.Timestamp` as the wire sees it: `int64 seconds = 1; int32 nanos = 2;`. */
function timestampMessage(): CompatMessage {
  const fields: CompatField[] = [
    { name: 'seconds', number: 1, type: { kind: 'scalar', scalar: 'int64' }, repeated: false, optional: false },
    { name: 'nanos', number: 2, type: { kind: 'scalar', scalar: 'int32' }, repeated: false, optional: false },
  ];
  return { fullName: TIMESTAMP_TYPE.slice(1), fields, byNumber: new Map(fields.map((f) => [f.number, f])), mapEntry: false };
}

/**
 * Parses serialized `FileDescriptorProto` bytes into a {@link CompatSchema}.
 *
 * @remarks
 * Type references are resolved by full name inside the file; `google.protobuf.Timestamp` (the one
 * import Weft emits) is known without its file. Weft's files are self-contained, so any other
 * unresolved reference means the bytes are not a Weft schema.
 *
 * @throws SchemaInvalidError when the bytes do not parse, or a field references a type the file
 *   does not define.
 */
export function parseCompatSchema(bytes: Uint8Array): CompatSchema {
  let file: RawFile;
  try {
    file = decodeFileDescriptor(bytes) as RawFile;
  } catch (e) {
    throw new SchemaInvalidError(`the bytes are not a serialized FileDescriptorProto: ${(e as Error).message}`, { cause: e });
  }
  const pkg = file.package ?? '';
  const rawMessages = new Map<string, RawMessage>();
  const enums = new Map<string, CompatEnum>();
  const addEnum = (e: RawEnum, scope: string): void => {
    const fullName = scope ? `${scope}.${e.name ?? ''}` : e.name ?? '';
    enums.set(fullName, {
      fullName,
      values: (e.value ?? []).map((v) => ({ name: v.name ?? '', number: v.number ?? 0 })),
    });
  };
  const addMessage = (m: RawMessage, scope: string): void => {
    const fullName = scope ? `${scope}.${m.name ?? ''}` : m.name ?? '';
    rawMessages.set(fullName, m);
    for (const n of m.nestedType ?? []) addMessage(n, fullName);
    for (const e of m.enumType ?? []) addEnum(e, fullName);
  };
  for (const m of file.messageType ?? []) addMessage(m, pkg);
  for (const e of file.enumType ?? []) addEnum(e, pkg);

  // Create every message first (fields filled afterwards) so that recursive references resolve.
  const messages = new Map<string, CompatMessage>();
  for (const [fullName, m] of rawMessages) {
    messages.set(fullName, { fullName, fields: [], byNumber: new Map(), mapEntry: m.options?.mapEntry === true });
  }
  const timestamp = messages.get(TIMESTAMP_TYPE.slice(1)) ?? timestampMessage();

  for (const [fullName, m] of rawMessages) {
    const target = messages.get(fullName)!;
    for (const f of m.field ?? []) {
      const where = `${fullName}.${f.name ?? '?'}`;
      const type = resolveType(f, where, messages, enums, timestamp);
      const field: CompatField = {
        name: f.name ?? '', number: f.number ?? 0, type,
        repeated: f.label === LABEL.repeated, optional: f.proto3Optional === true,
      };
      target.fields.push(field);
      target.byNumber.set(field.number, field);
    }
    target.fields.sort((a, b) => a.number - b.number);
  }
  return { package: pkg, messages, enums };
}

function resolveType(
  f: RawField, where: string, messages: Map<string, CompatMessage>, enums: Map<string, CompatEnum>,
  timestamp: CompatMessage,
): CompatType {
  const t = f.type ?? 0;
  if (t === FIELD_TYPE.group) return { kind: 'group' };
  if (t === FIELD_TYPE.message || t === FIELD_TYPE.enum) {
    const ref = (f.typeName ?? '').replace(/^\./, '');
    if (t === FIELD_TYPE.enum) {
      const e = enums.get(ref);
      if (e) return { kind: 'enum', enum: e };
    } else {
      const m = messages.get(ref) ?? (ref === timestamp.fullName ? timestamp : undefined);
      if (m) return { kind: 'message', message: m };
    }
    throw new SchemaInvalidError(`field ${where} references ${f.typeName ?? '<nothing>'}, which the schema does not define.`);
  }
  const scalar = SCALAR_BY_NUMBER.get(t);
  if (!scalar) throw new SchemaInvalidError(`field ${where} has unknown type number ${t}.`);
  return { kind: 'scalar', scalar };
}
