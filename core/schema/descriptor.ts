import * as descriptor from 'protobufjs/ext/descriptor';
import { DecoratorError, DecoratorErrorCode } from '../../decorators/errors';
import type { ScalarType } from '../../decorators/types';
import { collectTypes, ElementModel, EnumModel, FieldModel, MessageModel, splitFullName, toPascalCase } from './model';

/** `FieldDescriptorProto.Type` numbers. */
export const FIELD_TYPE = {
  double: 1, float: 2, int64: 3, uint64: 4, int32: 5, fixed64: 6, fixed32: 7, bool: 8, string: 9,
  group: 10, message: 11, bytes: 12, uint32: 13, enum: 14, sfixed32: 15, sfixed64: 16, sint32: 17, sint64: 18,
} as const;
/** `FieldDescriptorProto.Label` numbers. */
export const LABEL = { optional: 1, required: 2, repeated: 3 } as const;

export const TIMESTAMP_FILE = 'google/protobuf/timestamp.proto';
export const TIMESTAMP_TYPE = '.google.protobuf.Timestamp';

/* Plain shapes of the descriptor messages we emit (a subset of descriptor.proto). */
export interface FieldDescriptorShape {
  name: string; number: number; label: number; type: number; typeName?: string;
  oneofIndex?: number; proto3Optional?: boolean;
}
export interface EnumDescriptorShape { name: string; value: { name: string; number: number }[] }
export interface MessageDescriptorShape {
  name: string;
  field: FieldDescriptorShape[];
  nestedType: MessageDescriptorShape[];
  enumType: EnumDescriptorShape[];
  oneofDecl: { name: string }[];
  options?: { mapEntry: boolean };
}
export interface FileDescriptorShape {
  name: string; package: string; dependency: string[];
  messageType: MessageDescriptorShape[]; enumType: EnumDescriptorShape[]; syntax: 'proto3';
}

type Named = MessageModel | EnumModel;

/**
 * Turns a root message model into one self-contained proto3 `FileDescriptorProto`.
 *
 * @remarks
 * The file holds the root and every message and enum it reaches, and imports only
 * `google/protobuf/timestamp.proto`. Its package is the root's package. Placement rules, which
 * make the output canonical (same classes, same bytes, on any machine):
 * - a type whose full name is `<message>.<Name>` for a message in the graph is nested in it;
 * - other types in the root's package are top-level under their own name;
 * - types from another package are top-level, renamed `<pkg_with_underscores>__<Name>` (protobuf
 *   allows one package per file; the wire format does not carry names, so this changes nothing
 *   on the wire);
 * - messages, enums and nested types are sorted by name, fields by number, enum values by number
 *   with 0 first; map entries and map-of-list wrappers are generated as nested types.
 */
export function buildFileDescriptor(root: MessageModel): FileDescriptorShape {
  const { messages, enums } = collectTypes(root);
  const rootPkg = splitFullName(root.fullName).pkg;
  const byName = new Map<string, Named>();
  for (const t of [...messages, ...enums]) {
    const other = byName.get(t.fullName);
    if (other && other !== t) {
      throw new DecoratorError(DecoratorErrorCode.MESSAGE_NAME_CONFLICT, t.fullName, undefined,
        `two different types in the schema of ${root.fullName} are both named '${t.fullName}'. ` +
        'Give each @Output class and registered enum its own full name.');
    }
    byName.set(t.fullName, t);
  }
  const isMessageName = (n: string): boolean => byName.get(n)?.kind === 'message';

  // Emitted full name (without leading dot) of every type, computed parent-first.
  const emitted = new Map<string, string>();
  const emittedName = (fullName: string): string => {
    const hit = emitted.get(fullName);
    if (hit !== undefined) return hit;
    const { pkg, name } = splitFullName(fullName);
    let out: string;
    if (pkg && isMessageName(pkg)) out = `${emittedName(pkg)}.${name}`;
    else if (pkg === rootPkg) out = rootPkg ? `${rootPkg}.${name}` : name;
    else out = `${rootPkg ? rootPkg + '.' : ''}${pkg.replace(/\./g, '_')}__${name}`;
    emitted.set(fullName, out);
    return out;
  };
  const typeName = (fullName: string): string => `.${emittedName(fullName)}`;

  const shapes = new Map<string, MessageDescriptorShape>();
  const enumShapes = new Map<string, EnumDescriptorShape>();
  const file: FileDescriptorShape = {
    name: `weft/${root.fullName}.proto`, package: rootPkg, dependency: [],
    messageType: [], enumType: [], syntax: 'proto3',
  };
  let usesTimestamp = false;

  const elementType = (e: ElementModel): { type: number; typeName?: string } => {
    switch (e.kind) {
      case 'scalar': return { type: FIELD_TYPE[e.scalar] };
      case 'enum': return { type: FIELD_TYPE.enum, typeName: typeName(e.enum.fullName) };
      case 'message': return { type: FIELD_TYPE.message, typeName: typeName(e.message.fullName) };
      case 'timestamp': usesTimestamp = true; return { type: FIELD_TYPE.message, typeName: TIMESTAMP_TYPE };
    }
  };

  const fieldShape = (f: FieldModel, owner: MessageDescriptorShape, ownerFullName: string): FieldDescriptorShape => {
    if (f.map) {
      const entryName = `${toPascalCase(f.name)}Entry`;
      const entry: MessageDescriptorShape = {
        name: entryName,
        field: [
          { name: 'key', number: 1, label: LABEL.optional, type: FIELD_TYPE[f.map.key as ScalarType] },
          { name: 'value', number: 2, label: LABEL.optional, ...elementType(f.map.value) },
        ],
        nestedType: [], enumType: [], oneofDecl: [], options: { mapEntry: true },
      };
      if (owner.nestedType.some((n) => n.name === entryName)) {
        throw new DecoratorError(DecoratorErrorCode.MESSAGE_NAME_CONFLICT, owner.name, f.property,
          `the generated map entry type ${entryName} collides with another nested type.`);
      }
      owner.nestedType.push(entry);
      return {
        name: f.name, number: f.number, label: LABEL.repeated, type: FIELD_TYPE.message,
        typeName: `${typeName(ownerFullName)}.${entryName}`,
      };
    }
    const out: FieldDescriptorShape = {
      name: f.name, number: f.number, label: f.repeated ? LABEL.repeated : LABEL.optional, ...elementType(f.element),
    };
    if (f.optional) {
      out.oneofIndex = owner.oneofDecl.length;
      out.proto3Optional = true;
      owner.oneofDecl.push({ name: `_${f.name}` });
    }
    return out;
  };

  for (const m of messages) {
    const shape: MessageDescriptorShape = {
      name: splitFullName(emittedName(m.fullName)).name, field: [], nestedType: [], enumType: [], oneofDecl: [],
    };
    for (const f of m.fields) shape.field.push(fieldShape(f, shape, m.fullName));
    shapes.set(m.fullName, shape);
  }
  for (const e of enums) {
    enumShapes.set(e.fullName, {
      name: splitFullName(emittedName(e.fullName)).name,
      value: e.values.map((v) => ({ name: v.name, number: v.number })),
    });
  }

  // Place every type in its parent (a message) or at the top of the file.
  const byShapeName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const t of [...messages, ...enums]) {
    const { pkg } = splitFullName(t.fullName);
    const parent = pkg && isMessageName(pkg) ? shapes.get(pkg)! : undefined;
    if (t.kind === 'message') (parent ? parent.nestedType : file.messageType).push(shapes.get(t.fullName)!);
    else (parent ? parent.enumType : file.enumType).push(enumShapes.get(t.fullName)!);
  }
  for (const s of shapes.values()) {
    s.nestedType.sort(byShapeName);
    s.enumType.sort(byShapeName);
    const names = new Set<string>();
    for (const n of [...s.nestedType, ...s.enumType]) {
      if (names.has(n.name)) {
        throw new DecoratorError(DecoratorErrorCode.MESSAGE_NAME_CONFLICT, s.name, undefined,
          `two nested types are both named ${n.name}; rename the field or the type that generates one of them.`);
      }
      names.add(n.name);
    }
  }
  file.messageType.sort(byShapeName);
  file.enumType.sort(byShapeName);
  if (usesTimestamp) file.dependency.push(TIMESTAMP_FILE);
  return file;
}

/** Serializes a file descriptor. Given equal shapes, the bytes are equal: fields go out in number order. */
export function encodeFileDescriptor(file: FileDescriptorShape): Uint8Array {
  const T = descriptor.FileDescriptorProto;
  // Like protoc, leave `package` out entirely when a root has none (rather than writing an empty string).
  const shape = file.package ? file : { ...file, package: undefined };
  return T.encode(T.fromObject(shape)).finish();
}

/** Parses `FileDescriptorProto` bytes into a plain object (camelCase keys). */
export function decodeFileDescriptor(bytes: Uint8Array): Record<string, unknown> {
  const T = descriptor.FileDescriptorProto;
  return T.toObject(T.decode(bytes), { defaults: false, arrays: true }) as Record<string, unknown>;
}

/** The `google/protobuf/timestamp.proto` descriptor, for building self-sufficient descriptor sets. */
export function timestampFileDescriptor(): Record<string, unknown> {
  return {
    name: TIMESTAMP_FILE, package: 'google.protobuf', syntax: 'proto3',
    messageType: [{
      name: 'Timestamp',
      field: [
        { name: 'seconds', number: 1, label: LABEL.optional, type: FIELD_TYPE.int64, jsonName: 'seconds' },
        { name: 'nanos', number: 2, label: LABEL.optional, type: FIELD_TYPE.int32, jsonName: 'nanos' },
      ],
    }],
    options: { javaPackage: 'com.google.protobuf', javaMultipleFiles: true, goPackage: 'google.golang.org/protobuf/types/known/timestamppb', csharpNamespace: 'Google.Protobuf.WellKnownTypes', objcClassPrefix: 'GPB', ccEnableArenas: true },
  };
}
