import { Writer } from 'protobufjs';
import * as descriptor from 'protobufjs/ext/descriptor';
import { DecoratorError, DecoratorErrorCode, WeftError } from '../../decorators/errors';
import type { Ctor, ScalarType } from '../../decorators/types';
import { buildMessageModel } from './build-model';
import {
  decodeFileDescriptor, EnumDescriptorShape, FIELD_TYPE, LABEL, TIMESTAMP_FILE, TIMESTAMP_TYPE, timestampFileDescriptor,
} from './descriptor';
import { collectTypes, ElementModel, EnumModel, FieldModel, MessageModel, splitFullName, toPascalCase } from './model';

/**
 * Export: turns `@Output` classes into artifacts that other protobuf tooling understands.
 *
 * - {@link exportDescriptorSet}: a `google.protobuf.FileDescriptorSet` (one file per package, true
 *   full names, real imports) for `protoc --descriptor_set_in`, `buf build`, `grpcurl`, …;
 * - {@link renderProto}: the same files as readable `.proto` text;
 * - {@link descriptorSetFromStored}: a descriptor set made from schema bytes as stored in
 *   `<prefix>:schemas` (the wire contract), for consumers that only have the registry.
 *
 * Unlike the registry schema (`descriptor.ts`), which folds a whole class graph into one
 * self-contained file and renames foreign-package types, the export keeps every type's real name
 * in its real package. Both describe the same wire format.
 */

/** Error codes raised by the export API. */
export const ExportErrorCode = {
  /** Two packages reference each other; protobuf files cannot import each other in a cycle. */
  IMPORT_CYCLE: 'WEFT_EXPORT_IMPORT_CYCLE',
  /** Two packages map to the same file name, or two stored files share a name or a type. */
  FILE_CONFLICT: 'WEFT_EXPORT_FILE_CONFLICT',
  /** A stored schema's bytes do not parse as a `FileDescriptorProto`, or it imports a file nobody supplied. */
  STORED_SCHEMA_INVALID: 'WEFT_EXPORT_STORED_SCHEMA_INVALID',
} as const;

/** An export could not be produced. Branch on {@link WeftError.code} ({@link ExportErrorCode}). */
export class ExportError extends WeftError {}

/** Options for {@link exportDescriptorSet}, {@link exportFiles} and {@link renderProto}. */
export interface ExportOptions {
  /**
   * The file name of a package's `.proto` file. Default {@link defaultProtoFileName}:
   * `shop` → `shop.proto`, `acme.shop.v1` → `acme/shop/v1.proto`.
   */
  fileName?: (pkg: string) => string;
}

/** A field as emitted by the export (descriptor.proto field names, camelCase). */
export interface ExportFieldShape {
  name: string; number: number; label: number; type: number; typeName?: string; jsonName: string;
  oneofIndex?: number; proto3Optional?: boolean;
}
/** A message as emitted by the export. */
export interface ExportMessageShape {
  name: string;
  field: ExportFieldShape[];
  nestedType: ExportMessageShape[];
  enumType: EnumDescriptorShape[];
  oneofDecl: { name: string }[];
  options?: { mapEntry: boolean };
}
/** One exported `.proto` file as a plain `FileDescriptorProto` object. */
export interface ExportFileShape {
  name: string; package: string; dependency: string[];
  messageType: ExportMessageShape[]; enumType: EnumDescriptorShape[]; syntax: 'proto3';
}

/**
 * The default file name of a package: its dotted path as directories, the last part as the file.
 *
 * @example
 * ```ts
 * defaultProtoFileName('shop');         // 'shop.proto'
 * defaultProtoFileName('acme.shop.v1'); // 'acme/shop/v1.proto'
 * defaultProtoFileName('');             // 'weft_default.proto' (types declared without a package)
 * ```
 */
export function defaultProtoFileName(pkg: string): string {
  return pkg === '' ? 'weft_default.proto' : `${pkg.replace(/\./g, '/')}.proto`;
}

/** protoc's `ToJsonName`: `placed_at` → `placedAt`. */
function jsonNameOf(fieldName: string): string {
  return fieldName.replace(/_+([^_]?)/g, (_m, c: string) => c.toUpperCase());
}

type Named = MessageModel | EnumModel;

/** Every type reachable from the classes, by full name, with name clashes rejected. */
function collectAll(classes: readonly Ctor[]): Map<string, Named> {
  const byName = new Map<string, Named>();
  for (const ctor of classes) {
    const { messages, enums } = collectTypes(buildMessageModel(ctor));
    for (const t of [...messages, ...enums]) {
      const other = byName.get(t.fullName);
      if (other && other !== t) {
        throw new DecoratorError(DecoratorErrorCode.MESSAGE_NAME_CONFLICT, t.fullName, undefined,
          `two different types reachable from the exported classes are both named '${t.fullName}'. ` +
          'Give each @Output class and registered enum its own full name.');
      }
      byName.set(t.fullName, t);
    }
  }
  return byName;
}

const byShapeName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The intermediate result shared by the descriptor set and the text renderer. */
interface ExportPlan {
  /** Files in dependency order (imports first); never includes timestamp.proto. */
  files: ExportFileShape[];
  usesTimestamp: boolean;
  /** The model behind every emitted message/enum, by full name (map entries are absent). */
  types: Map<string, Named>;
}

function plan(classes: readonly Ctor[], options: ExportOptions = {}): ExportPlan {
  const fileName = options.fileName ?? defaultProtoFileName;
  const types = collectAll(classes);
  const isMessage = (n: string): boolean => types.get(n)?.kind === 'message';
  /** The message a type nests in, if any. */
  const parentOf = (fullName: string): string | undefined => {
    const { pkg } = splitFullName(fullName);
    return pkg && isMessage(pkg) ? pkg : undefined;
  };
  const packageOf = (fullName: string): string => {
    let top = fullName;
    for (let p = parentOf(top); p !== undefined; p = parentOf(top)) top = p;
    return splitFullName(top).pkg;
  };

  const files = new Map<string, ExportFileShape>(); // by package
  const fileOfPackage = (pkg: string): ExportFileShape => {
    let f = files.get(pkg);
    if (!f) {
      f = { name: fileName(pkg), package: pkg, dependency: [], messageType: [], enumType: [], syntax: 'proto3' };
      files.set(pkg, f);
    }
    return f;
  };
  const deps = new Map<string, Set<string>>(); // package → packages it references
  let usesTimestamp = false;
  const timestampUsers = new Set<string>();

  const elementType = (e: ElementModel, fromPkg: string): { type: number; typeName?: string } => {
    const ref = (fullName: string): string => {
      const pkg = packageOf(fullName);
      if (pkg !== fromPkg) deps.get(fromPkg)!.add(pkg);
      return `.${fullName}`;
    };
    switch (e.kind) {
      case 'scalar': return { type: FIELD_TYPE[e.scalar] };
      case 'enum': return { type: FIELD_TYPE.enum, typeName: ref(e.enum.fullName) };
      case 'message': return { type: FIELD_TYPE.message, typeName: ref(e.message.fullName) };
      case 'timestamp':
        usesTimestamp = true;
        timestampUsers.add(fromPkg);
        return { type: FIELD_TYPE.message, typeName: TIMESTAMP_TYPE };
    }
  };

  const fieldShape = (f: FieldModel, owner: ExportMessageShape, ownerFullName: string, pkg: string): ExportFieldShape => {
    if (f.map) {
      const entryName = `${toPascalCase(f.name)}Entry`;
      if (owner.nestedType.some((n) => n.name === entryName)) {
        throw new DecoratorError(DecoratorErrorCode.MESSAGE_NAME_CONFLICT, ownerFullName, f.property,
          `the generated map entry type ${entryName} collides with another nested type.`);
      }
      owner.nestedType.push({
        name: entryName,
        field: [
          { name: 'key', number: 1, label: LABEL.optional, type: FIELD_TYPE[f.map.key as ScalarType], jsonName: 'key' },
          { name: 'value', number: 2, label: LABEL.optional, ...elementType(f.map.value, pkg), jsonName: 'value' },
        ],
        nestedType: [], enumType: [], oneofDecl: [], options: { mapEntry: true },
      });
      return {
        name: f.name, number: f.number, label: LABEL.repeated, type: FIELD_TYPE.message,
        typeName: `.${ownerFullName}.${entryName}`, jsonName: jsonNameOf(f.name),
      };
    }
    const out: ExportFieldShape = {
      name: f.name, number: f.number, label: f.repeated ? LABEL.repeated : LABEL.optional,
      ...elementType(f.element, pkg), jsonName: jsonNameOf(f.name),
    };
    if (f.optional) {
      out.oneofIndex = owner.oneofDecl.length;
      out.proto3Optional = true;
      owner.oneofDecl.push({ name: `_${f.name}` });
    }
    return out;
  };

  // Build every message and enum shape.
  const messageShapes = new Map<string, ExportMessageShape>();
  const enumShapes = new Map<string, EnumDescriptorShape>();
  const sortedNames = [...types.keys()].sort();
  for (const fullName of sortedNames) {
    const pkg = packageOf(fullName);
    fileOfPackage(pkg);
    if (!deps.has(pkg)) deps.set(pkg, new Set());
  }
  for (const fullName of sortedNames) {
    const t = types.get(fullName)!;
    const { name } = splitFullName(fullName);
    if (t.kind === 'message') {
      const shape: ExportMessageShape = { name, field: [], nestedType: [], enumType: [], oneofDecl: [] };
      for (const f of t.fields) shape.field.push(fieldShape(f, shape, fullName, packageOf(fullName)));
      messageShapes.set(fullName, shape);
    } else {
      enumShapes.set(fullName, { name, value: t.values.map((v) => ({ name: v.name, number: v.number })) });
    }
  }
  // Place each type in its parent message or at the top of its package's file.
  for (const fullName of sortedNames) {
    const t = types.get(fullName)!;
    const parentName = parentOf(fullName);
    const parent = parentName === undefined ? undefined : messageShapes.get(parentName)!;
    const file = files.get(packageOf(fullName))!;
    if (t.kind === 'message') (parent ? parent.nestedType : file.messageType).push(messageShapes.get(fullName)!);
    else (parent ? parent.enumType : file.enumType).push(enumShapes.get(fullName)!);
  }
  for (const [fullName, s] of messageShapes) {
    s.nestedType.sort(byShapeName);
    s.enumType.sort(byShapeName);
    const seen = new Set<string>();
    for (const n of [...s.nestedType, ...s.enumType]) {
      if (seen.has(n.name)) {
        throw new DecoratorError(DecoratorErrorCode.MESSAGE_NAME_CONFLICT, fullName, undefined,
          `two nested types are both named ${n.name}; rename the field or the type that generates one of them.`);
      }
      seen.add(n.name);
    }
  }
  const names = new Map<string, string>();
  for (const f of files.values()) {
    f.messageType.sort(byShapeName);
    f.enumType.sort(byShapeName);
    const clash = names.get(f.name);
    if (clash !== undefined || f.name === TIMESTAMP_FILE) {
      throw new ExportError(ExportErrorCode.FILE_CONFLICT,
        `packages '${clash ?? 'google.protobuf'}' and '${f.package}' would both be written to ${f.name}; ` +
        'pass an ExportOptions.fileName that gives each package its own file.');
    }
    names.set(f.name, f.package);
  }

  // Imports, then a topological order (imports first). Packages that import each other are an error.
  for (const [pkg, file] of files) {
    const list = [...deps.get(pkg)!].map((p) => files.get(p)!.name);
    if (timestampUsers.has(pkg)) list.push(TIMESTAMP_FILE);
    file.dependency = list.sort();
  }
  const ordered: ExportFileShape[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (pkg: string): void => {
    const s = state.get(pkg);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(pkg)), pkg].map((p) => `'${p}'`).join(' → ');
      throw new ExportError(ExportErrorCode.IMPORT_CYCLE,
        `packages reference each other in a cycle (${cycle}), and .proto files cannot import each other ` +
        'in a cycle. Move the mutually recursive messages into one package.');
    }
    state.set(pkg, 'visiting');
    stack.push(pkg);
    for (const d of [...deps.get(pkg)!].sort()) visit(d);
    stack.pop();
    state.set(pkg, 'done');
    ordered.push(files.get(pkg)!);
  };
  for (const pkg of [...files.keys()].sort()) visit(pkg);
  return { files: ordered, usesTimestamp, types };
}

/**
 * The `FileDescriptorProto`s of the classes' export, as plain objects, in dependency order
 * (`google/protobuf/timestamp.proto` first when used).
 *
 * @remarks
 * One proto3 file per package; every type keeps its true full name; a type whose name is
 * `<message>.<Name>` is nested in that message. Map fields get their `…Entry` message and
 * map-of-lists values their `…List` wrapper, nested exactly as in the registry schema, so a Weft
 * payload decodes identically with either. Output is canonical: types sorted by name, fields by
 * number.
 *
 * @throws DecoratorError for invalid declarations or two types with one name.
 * @throws ExportError `WEFT_EXPORT_IMPORT_CYCLE` when two packages reference each other.
 *
 * @example
 * ```ts
 * const files = exportFiles([Order]);
 * files.map((f) => f.name); // ['google/protobuf/timestamp.proto', 'shop.proto']
 * ```
 */
export function exportFiles(classes: readonly Ctor[], options?: ExportOptions): Record<string, unknown>[] {
  const p = plan(classes, options);
  // A file without a package has no `package` field at all (as protoc writes it), not an empty one.
  const files = p.files.map((f): Record<string, unknown> => (f.package ? { ...f } : { ...f, package: undefined }));
  return [...(p.usesTimestamp ? [timestampFileDescriptor()] : []), ...files];
}

/**
 * A serialized `google.protobuf.FileDescriptorSet` describing every type reachable from the given
 * `@Output` classes: one file per package, real imports between them, and
 * `google/protobuf/timestamp.proto` when a `Date` field is used. Files come in dependency order,
 * so the set is self-sufficient for `protoc --descriptor_set_in` and `buf build`.
 *
 * @param classes - `@Output` classes; everything they reach is included.
 * @param options - See {@link ExportOptions}.
 * @throws DecoratorError for invalid declarations or two types with one name.
 * @throws ExportError `WEFT_EXPORT_IMPORT_CYCLE` when two packages reference each other, or
 *   `WEFT_EXPORT_FILE_CONFLICT` when two packages map to one file name.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * writeFileSync('shop.binpb', exportDescriptorSet([Order]));
 * // $ protoc --descriptor_set_in=shop.binpb --decode=shop.Order < payload.bin
 * // $ buf build shop.binpb -o /dev/null
 * ```
 */
export function exportDescriptorSet(classes: readonly Ctor[], options?: ExportOptions): Uint8Array {
  const T = descriptor.FileDescriptorSet;
  return T.encode(T.fromObject({ file: exportFiles(classes, options) })).finish();
}

/* ------------------------------------------------------------------------------------------------
 * Rendering .proto text
 * --------------------------------------------------------------------------------------------- */

type SymbolKind = 'package' | 'message' | 'enum' | 'other';

/** Every symbol protoc would define for the files, with the kind that matters for name lookup. */
function symbolTable(files: readonly ExportFileShape[], withTimestamp: boolean): Map<string, SymbolKind> {
  const table = new Map<string, SymbolKind>();
  const addPackage = (pkg: string): void => {
    const parts = pkg ? pkg.split('.') : [];
    for (let i = 1; i <= parts.length; i++) table.set(parts.slice(0, i).join('.'), 'package');
  };
  const join = (scope: string, name: string): string => (scope ? `${scope}.${name}` : name);
  const addEnum = (scope: string, e: EnumDescriptorShape): void => {
    table.set(join(scope, e.name), 'enum');
    for (const v of e.value) table.set(join(scope, v.name), 'other'); // values are siblings of their enum
  };
  const addMessage = (scope: string, m: ExportMessageShape): void => {
    const full = join(scope, m.name);
    table.set(full, 'message');
    for (const f of m.field) table.set(`${full}.${f.name}`, 'other');
    for (const o of m.oneofDecl) table.set(`${full}.${o.name}`, 'other');
    for (const n of m.nestedType) addMessage(full, n);
    for (const e of m.enumType) addEnum(full, e);
  };
  for (const f of files) {
    addPackage(f.package);
    for (const m of f.messageType) addMessage(f.package, m);
    for (const e of f.enumType) addEnum(f.package, e);
  }
  if (withTimestamp) {
    addPackage('google.protobuf');
    table.set('google.protobuf.Timestamp', 'message');
    table.set('google.protobuf.Timestamp.seconds', 'other');
    table.set('google.protobuf.Timestamp.nanos', 'other');
  }
  return table;
}

/**
 * protoc's relative name lookup (`DescriptorBuilder::LookupSymbol`, types only): what `name`,
 * written in a field of message `scope`, resolves to; `undefined` when it does not resolve.
 */
function lookupType(table: Map<string, SymbolKind>, name: string, scope: string): string | undefined {
  const dot = name.indexOf('.');
  const first = dot < 0 ? name : name.slice(0, dot);
  const isType = (k: SymbolKind | undefined): boolean => k === 'message' || k === 'enum';
  const isAggregate = (k: SymbolKind | undefined): boolean => k !== undefined && k !== 'other';
  // A field's own scope is `<message>.<field>`; lookup starts by stripping the field name.
  let scopeToTry = `${scope}.x`;
  for (;;) {
    const cut = scopeToTry.lastIndexOf('.');
    if (cut < 0) return isType(table.get(name)) ? name : undefined;
    scopeToTry = scopeToTry.slice(0, cut);
    const candidate = scopeToTry ? `${scopeToTry}.${first}` : first;
    const kind = table.get(candidate);
    if (kind !== undefined) {
      if (dot >= 0) {
        if (isAggregate(kind)) {
          const full = `${candidate}${name.slice(dot)}`;
          return isType(table.get(full)) ? full : undefined;
        }
      } else if (isType(kind)) {
        return candidate;
      }
    }
    if (scopeToTry === '') return isType(table.get(name)) ? name : undefined;
  }
}

/** The shortest way to write type `fullName` (no leading dot) in a field of message `scope`. */
function shortestTypeName(table: Map<string, SymbolKind>, fullName: string, scope: string): string {
  const parts = fullName.split('.');
  for (let i = parts.length - 1; i >= 0; i--) {
    const candidate = parts.slice(i).join('.');
    if (lookupType(table, candidate, scope) === fullName) return candidate;
  }
  return `.${fullName}`;
}

const SCALAR_NAME_BY_TYPE = new Map<number, string>(
  Object.entries(FIELD_TYPE).filter(([k]) => k !== 'message' && k !== 'enum' && k !== 'group').map(([k, v]) => [v, k]),
);

function renderFile(file: ExportFileShape, table: Map<string, SymbolKind>, types: Map<string, Named>): string {
  const out: string[] = [
    '// Generated by Weft from @Output classes. Do not edit: change the classes and export again.',
    `// Source: ${file.name}`,
    '',
    'syntax = "proto3";',
    '',
  ];
  if (file.package) out.push(`package ${file.package};`, '');
  if (file.dependency.length) {
    for (const d of file.dependency) out.push(`import "${d}";`);
    out.push('');
  }
  const typeRef = (f: { type: number; typeName?: string }, scope: string): string =>
    f.typeName === undefined ? SCALAR_NAME_BY_TYPE.get(f.type)! : shortestTypeName(table, f.typeName.slice(1), scope);

  const renderEnum = (e: EnumDescriptorShape, indent: string): void => {
    out.push(`${indent}enum ${e.name} {`);
    for (const v of e.value) out.push(`${indent}  ${v.name} = ${v.number};`);
    out.push(`${indent}}`);
  };
  const renderMessage = (m: ExportMessageShape, scope: string, indent: string): void => {
    const full = scope ? `${scope}.${m.name}` : m.name;
    const model = types.get(full);
    if (model?.kind === 'message' && model.listWrapper) {
      out.push(`${indent}// Carries one list as a map value (generated by Weft for a map-of-lists field).`);
    }
    out.push(`${indent}message ${m.name} {`);
    const entries = new Map(m.nestedType.filter((n) => n.options?.mapEntry).map((n) => [`${full}.${n.name}`, n]));
    for (const f of m.field) {
      const entry = f.typeName === undefined ? undefined : entries.get(f.typeName.slice(1));
      if (entry) {
        const [k, v] = entry.field;
        out.push(`${indent}  map<${typeRef(k, full)}, ${typeRef(v, full)}> ${f.name} = ${f.number};`);
        continue;
      }
      const label = f.label === LABEL.repeated ? 'repeated ' : f.proto3Optional ? 'optional ' : '';
      out.push(`${indent}  ${label}${typeRef(f, full)} ${f.name} = ${f.number};`);
    }
    for (const e of m.enumType) {
      out.push('');
      renderEnum(e, `${indent}  `);
    }
    for (const n of m.nestedType) {
      if (n.options?.mapEntry) continue;
      out.push('');
      renderMessage(n, full, `${indent}  `);
    }
    out.push(`${indent}}`);
  };
  const blocks: (() => void)[] = [
    ...file.enumType.map((e) => () => renderEnum(e, '')),
    ...file.messageType.map((m) => () => renderMessage(m, file.package, '')),
  ];
  blocks.forEach((b, i) => {
    if (i > 0) out.push('');
    b();
  });
  return `${out.join('\n')}\n`;
}

/**
 * Renders the classes' export as readable proto3 source: one `.proto` file per package, keyed by
 * file name, in dependency order. It describes exactly what {@link exportDescriptorSet} does;
 * compiled with `protoc`, it decodes Weft payloads identically.
 *
 * @remarks
 * Map fields are written `map<K, V>` (the entry message is implicit), optional fields `optional`,
 * list fields `repeated`. Type references use the shortest name that protoc resolves to the right
 * type. `google/protobuf/timestamp.proto` is imported, not rendered: every protobuf toolchain ships it.
 *
 * @example
 * ```ts
 * for (const [name, text] of renderProto([Order])) {
 *   mkdirSync(dirname(join('proto', name)), { recursive: true });
 *   writeFileSync(join('proto', name), text);
 * }
 * // proto/shop.proto:
 * //   syntax = "proto3";
 * //   package shop;
 * //   import "google/protobuf/timestamp.proto";
 * //   message Order {
 * //     string id = 1;
 * //     map<string, Order.ByWarehouseList> by_warehouse = 4;
 * //     google.protobuf.Timestamp placed_at = 5;
 * //     optional string note = 6;
 * //     …
 * ```
 */
export function renderProto(classes: readonly Ctor[], options?: ExportOptions): Map<string, string> {
  const p = plan(classes, options);
  const table = symbolTable(p.files, p.usesTimestamp);
  return new Map(p.files.map((f) => [f.name, renderFile(f, table, p.types)]));
}

/* ------------------------------------------------------------------------------------------------
 * Descriptor sets from stored schemas
 * --------------------------------------------------------------------------------------------- */

/**
 * Builds a serialized `FileDescriptorSet` from `FileDescriptorProto` bytes exactly as stored in
 * the `<prefix>:schemas` hash. The stored bytes are embedded verbatim (never re-encoded), and
 * `google/protobuf/timestamp.proto` is added when a file imports it and was not supplied.
 *
 * @remarks
 * Identical byte strings are included once. Each stored schema is self-contained, so schemas of
 * different subjects may define the same type (a shared `shop.LineItem`): protoc refuses such a
 * set, so this function does too, with `WEFT_EXPORT_FILE_CONFLICT`. Build one set per schema
 * then, or use {@link exportDescriptorSet} for a merged view.
 *
 * @param fileBytes - Stored schema values (e.g. from `HGET <prefix>:schemas <schema_id>` read as a buffer).
 * @throws ExportError `WEFT_EXPORT_STORED_SCHEMA_INVALID` for bytes that do not parse or an
 *   import that is neither supplied nor timestamp.proto; `WEFT_EXPORT_FILE_CONFLICT` for two files
 *   with one name or one type.
 *
 * @example
 * ```ts
 * const bytes = await redis.hgetBuffer('weft:schemas', schemaId);
 * writeFileSync('set.binpb', descriptorSetFromStored([bytes!]));
 * // $ protoc --descriptor_set_in=set.binpb --decode=shop.Order < payload.bin
 * ```
 */
export function descriptorSetFromStored(fileBytes: readonly Uint8Array[]): Uint8Array {
  interface Parsed { name: string; bytes: Uint8Array; deps: string[] }
  const byName = new Map<string, Parsed>();
  const owner = new Map<string, string>(); // top-level symbol → file
  for (const bytes of fileBytes) {
    let file: Record<string, unknown>;
    try {
      file = decodeFileDescriptor(bytes);
    } catch (e) {
      throw new ExportError(ExportErrorCode.STORED_SCHEMA_INVALID,
        `stored schema bytes do not parse as a google.protobuf.FileDescriptorProto: ${(e as Error).message}`, { cause: e });
    }
    const name = typeof file.name === 'string' ? file.name : '';
    if (!name) throw new ExportError(ExportErrorCode.STORED_SCHEMA_INVALID, 'a stored schema has no file name.');
    const prev = byName.get(name);
    if (prev) {
      if (Buffer.from(prev.bytes).equals(Buffer.from(bytes))) continue;
      throw new ExportError(ExportErrorCode.FILE_CONFLICT,
        `two different stored schemas are both named ${name} (two versions of one subject?); put each in its own set.`);
    }
    const pkg = typeof file.package === 'string' ? file.package : '';
    const tops = [...((file.messageType ?? []) as { name: string }[]), ...((file.enumType ?? []) as { name: string }[])];
    for (const t of tops) {
      const full = pkg ? `${pkg}.${t.name}` : t.name;
      const other = owner.get(full);
      if (other !== undefined) {
        throw new ExportError(ExportErrorCode.FILE_CONFLICT,
          `${other} and ${name} both define ${full}; protoc accepts a type only once per set. Build one set per schema.`);
      }
      owner.set(full, name);
    }
    byName.set(name, { name, bytes, deps: ((file.dependency ?? []) as string[]).slice() });
  }
  const needsTimestamp = [...byName.values()].some((f) => f.deps.includes(TIMESTAMP_FILE));
  if (needsTimestamp && !byName.has(TIMESTAMP_FILE)) {
    const T = descriptor.FileDescriptorProto;
    byName.set(TIMESTAMP_FILE, {
      name: TIMESTAMP_FILE, bytes: T.encode(T.fromObject(timestampFileDescriptor())).finish(), deps: [],
    });
  }
  const ordered: Parsed[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (f: Parsed): void => {
    const s = state.get(f.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      throw new ExportError(ExportErrorCode.STORED_SCHEMA_INVALID, `stored schema ${f.name} imports itself through a cycle.`);
    }
    state.set(f.name, 'visiting');
    for (const d of f.deps) {
      const dep = byName.get(d);
      if (!dep) {
        throw new ExportError(ExportErrorCode.STORED_SCHEMA_INVALID,
          `stored schema ${f.name} imports ${d}, which was not supplied; pass its bytes too.`);
      }
      visit(dep);
    }
    state.set(f.name, 'done');
    ordered.push(f);
  };
  for (const f of byName.values()) visit(f);
  // FileDescriptorSet { repeated FileDescriptorProto file = 1; }: write each stored file verbatim.
  const w = Writer.create();
  for (const f of ordered) w.uint32((1 << 3) | 2).bytes(f.bytes);
  return w.finish();
}
