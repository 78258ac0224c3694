import { expect } from 'chai';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Reader } from 'protobufjs';
import * as descriptor from 'protobufjs/ext/descriptor';
import { Field, Output } from '../../../decorators';
import {
  defaultProtoFileName, descriptorSetFromStored, ExportError, ExportErrorCode, exportDescriptorSet, exportFiles, renderProto,
} from '../../../core/schema/export';
import { schemaOf } from '../../../core/schema/schema';
import { Everything, Money, sampleEverything } from '../../fixtures/everything';
import { Address, Channel, LineItem, Order, Priority } from '../../fixtures/shop';
import { BUF, makeTmpDir, protocDecode, removeTmpDir, requireBuf, requireProtoc, run } from '../../interop/tools';

/* Classes only this suite uses. */

@Output('exporttest.ref.Target')
class RefTarget {
  @Field(1) a!: string;
}

/** Nested in ShadowUser by name: a bare `Target` inside User means this one, not exporttest.ref.Target. */
@Output('exporttest.user.User.Target')
class UserTarget {
  @Field(1, 'int32') b!: number;
}

/** A nested message called `ref`: it shadows the package `exporttest.ref` inside User. */
@Output('exporttest.user.User.ref')
class UserRef {
  @Field(1) c!: string;
}

@Output('exporttest.user.User')
class ShadowUser {
  @Field(1, () => RefTarget) far?: RefTarget;
  @Field(2, () => UserTarget) near?: UserTarget;
  @Field(3, { map: ['string', () => RefTarget] }) farByKey!: Map<string, RefTarget>;
  @Field(4, () => UserRef) refField?: UserRef;
  @Field(5, { map: ['sint64', () => [UserTarget]] }) nearLists!: Map<bigint, UserTarget[]>;
}

/** A message without a package. */
@Output('ExportTestLoose')
class Loose {
  @Field(1, () => RefTarget) target?: RefTarget;
  @Field(2) at!: Date;
}

@Output('exporttest.cyca.A')
class CycA {
  // `Partial<…>` keeps emitDecoratorMetadata from touching CycB before its class is initialized.
  @Field(1, () => CycB) b?: Partial<CycB>;
}

@Output('exporttest.cycb.B')
class CycB {
  @Field(1, () => CycA) a?: CycA;
}

/* Helpers */

type Obj = Record<string, unknown>;
interface FileObj extends Obj { name: string; package?: string; dependency?: string[]; messageType?: Obj[]; enumType?: Obj[] }

function decodeSet(bytes: Uint8Array): FileObj[] {
  const T = descriptor.FileDescriptorSet;
  const set = T.toObject(T.decode(bytes), { defaults: false, arrays: true, longs: String }) as { file: FileObj[] };
  return set.file;
}

/** Every message and enum of a set (timestamp.proto aside) by full name, in a comparable form. */
function typesOf(files: FileObj[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walkEnum = (scope: string, e: Obj): void => {
    out.set(`${scope}.${e.name as string}`, { enum: (e.value as Obj[]).map((v) => `${v.name as string}=${v.number as number}`) });
  };
  const walk = (scope: string, m: Obj): void => {
    const full = scope ? `${scope}.${m.name as string}` : (m.name as string);
    const oneofs = ((m.oneofDecl ?? []) as Obj[]).map((o) => o.name);
    out.set(full, {
      mapEntry: (m.options as Obj | undefined)?.mapEntry === true,
      fields: ((m.field ?? []) as Obj[]).map((f) => ({
        name: f.name, number: f.number, label: f.label, type: f.type, typeName: f.typeName, jsonName: f.jsonName,
        proto3Optional: f.proto3Optional === true,
        oneof: f.oneofIndex === undefined ? undefined : oneofs[f.oneofIndex as number],
      })),
    });
    for (const n of (m.nestedType ?? []) as Obj[]) walk(full, n);
    for (const e of (m.enumType ?? []) as Obj[]) walkEnum(full, e);
  };
  for (const f of files) {
    if (f.name.startsWith('google/protobuf/')) continue;
    for (const m of f.messageType ?? []) walk(f.package ?? '', m);
    for (const e of f.enumType ?? []) walkEnum(f.package ?? '', e);
  }
  return out;
}

function sampleOrder(): Order {
  const item = (sku: string, quantity: number, priceCents: bigint): LineItem =>
    Object.assign(new LineItem(), { sku, quantity, priceCents });
  return Object.assign(new Order(), {
    id: 'o-1', total: 9223372036854775807n, items: [item('a', 1, 100n), item('b', 2, -5n)],
    byWarehouse: new Map([['eu', [item('c', 3, 7n)]], ['us', []]]),
    placedAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, 6)), note: undefined, priority: Priority.High,
    channel: Channel.Phone, shipTo: Object.assign(new Address(), { street: 'Main 1', city: 'Oslo', zip: '0150' }),
    tags: ['x', 'y'], counters: { hits: -3 },
  });
}

/** Writes rendered files under `dir` and compiles them with protoc into one descriptor set. */
function compileRendered(rendered: Map<string, string>, dir: string, out: string): void {
  for (const [name, text] of rendered) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  run('protoc', [`--proto_path=${dir}`, '--include_imports', `--descriptor_set_out=${out}`, ...rendered.keys()]);
}

const ALL = [Everything, Order, ShadowUser, Loose];

describe('core/schema/export', () => {
  let dir: string;

  before(() => {
    requireProtoc();
    requireBuf();
    dir = makeTmpDir('export');
  });
  after(() => removeTmpDir(dir));

  describe('defaultProtoFileName', () => {
    it('should map a package to a path', () => {
      expect(defaultProtoFileName('shop')).to.equal('shop.proto');
      expect(defaultProtoFileName('acme.shop.v1')).to.equal('acme/shop/v1.proto');
      expect(defaultProtoFileName('')).to.equal('weft_default.proto');
    });
  });

  describe('exportDescriptorSet', () => {
    it('should write one file per package, in dependency order, with timestamp.proto first', () => {
      const files = decodeSet(exportDescriptorSet(ALL));
      expect(files.map((f) => f.name)).to.deep.equal([
        'google/protobuf/timestamp.proto', 'exporttest/ref.proto', 'weft_default.proto', 'exporttest/user.proto',
        'interop/common.proto', 'interop.proto', 'shop.proto',
      ]);
      const byName = new Map(files.map((f) => [f.name, f]));
      expect(byName.get('interop.proto')!.dependency).to.deep.equal(['google/protobuf/timestamp.proto', 'interop/common.proto']);
      expect(byName.get('weft_default.proto')!.dependency).to.deep.equal(['exporttest/ref.proto', 'google/protobuf/timestamp.proto']);
      expect(byName.get('weft_default.proto')!.package).to.equal(undefined);
      expect(byName.get('exporttest/ref.proto')!.dependency ?? []).to.deep.equal([]);
      // Every file comes after the files it imports.
      const seen = new Set<string>();
      for (const f of files) {
        for (const d of f.dependency ?? []) expect(seen.has(d), `${f.name} imports ${d}`).to.equal(true);
        seen.add(f.name);
      }
    });

    it('should keep true full names across packages and nest generated types', () => {
      const types = typesOf(decodeSet(exportDescriptorSet(ALL)));
      const fieldsOf = (n: string): Obj[] => (types.get(n) as { fields: Obj[] }).fields;
      expect(fieldsOf('interop.Everything').find((f) => f.name === 'total')!.typeName).to.equal('.interop.common.Money');
      expect(fieldsOf('interop.Inner').find((f) => f.name === 'price')!.typeName).to.equal('.interop.common.Money');
      expect(fieldsOf('interop.Everything').find((f) => f.name === 'placed_at')!.typeName).to.equal('.google.protobuf.Timestamp');
      expect(fieldsOf('interop.Everything').find((f) => f.name === 'inners_by_group')!.typeName)
        .to.equal('.interop.Everything.InnersByGroupEntry');
      expect(fieldsOf('interop.Everything.InnersByGroupEntry')[1].typeName).to.equal('.interop.Everything.InnersByGroupList');
      expect((types.get('interop.Everything.InnersByGroupEntry') as Obj).mapEntry).to.equal(true);
      expect(types.get('interop.Everything.Color')).to.deep.equal({
        enum: ['COLOR_UNSPECIFIED=0', 'COLOR_RED=1', 'COLOR_GREEN=2', 'COLOR_BLUE=3'],
      });
      expect(fieldsOf('exporttest.user.User').map((f) => f.typeName)).to.deep.equal([
        '.exporttest.ref.Target', '.exporttest.user.User.Target', '.exporttest.user.User.FarByKeyEntry',
        '.exporttest.user.User.ref', '.exporttest.user.User.NearListsEntry',
      ]);
      expect(types.has('shop.Order.ByWarehouseList')).to.equal(true);
      expect([...types.keys()].some((n) => n.includes('__'))).to.equal(false);
    });

    it('should be canonical: the same bytes whatever the order of the classes', () => {
      const a = Buffer.from(exportDescriptorSet([Everything, Order, ShadowUser, Loose]));
      const b = Buffer.from(exportDescriptorSet([Loose, ShadowUser, Order, Everything, Money]));
      expect(a.equals(b)).to.equal(true);
    });

    it('should be accepted by protoc --descriptor_set_in', () => {
      const set = join(dir, 'accept.binpb');
      writeFileSync(set, exportDescriptorSet(ALL));
      const names = decodeSet(readFileSync(set)).map((f) => f.name);
      run('protoc', [`--descriptor_set_in=${set}`, `--descriptor_set_out=${join(dir, 'accept-out.binpb')}`, ...names]);
      expect(decodeSet(readFileSync(join(dir, 'accept-out.binpb'))).map((f) => f.name)).to.include('interop.proto');
    });

    it('should be accepted by buf build', () => {
      const set = join(dir, 'buf.binpb');
      writeFileSync(set, exportDescriptorSet(ALL));
      const out = join(dir, 'buf-out.binpb');
      run(BUF, ['build', set, '-o', out]);
      const built = typesOf(decodeSet(readFileSync(out)));
      expect(built.has('interop.Everything')).to.equal(true);
      expect(built.has('exporttest.user.User.ref')).to.equal(true);
    });

    it('should let protoc decode a payload with the same result as the stored schema', () => {
      const set = join(dir, 'decode.binpb');
      const stored = join(dir, 'decode-stored.binpb');
      writeFileSync(set, exportDescriptorSet(ALL));
      for (const [cls, value] of [[Everything, sampleEverything()], [Order, sampleOrder()]] as const) {
        const schema = schemaOf(cls as typeof Everything);
        const payload = schema.codec.encode(value as Everything);
        writeFileSync(stored, descriptorSetFromStored([schema.bytes]));
        const viaExport = protocDecode(set, schema.fullName, payload);
        expect(viaExport.length).to.be.greaterThan(100);
        expect(viaExport).to.equal(protocDecode(stored, schema.fullName, payload));
      }
    });

    it('should refuse packages that import each other', () => {
      expect(() => exportDescriptorSet([CycA])).to.throw(ExportError)
        .with.property('code', ExportErrorCode.IMPORT_CYCLE);
      expect(() => exportDescriptorSet([CycA])).to.throw(/'exporttest\.cyca' → 'exporttest\.cycb' → 'exporttest\.cyca'/);
    });

    it('should refuse two packages mapped to one file name', () => {
      expect(() => exportDescriptorSet([Everything], { fileName: () => 'all.proto' })).to.throw(ExportError)
        .with.property('code', ExportErrorCode.FILE_CONFLICT);
    });

    it('should use a custom file name', () => {
      const files = exportFiles([Money], { fileName: (pkg) => `weft/${pkg}.proto` });
      expect(files.map((f) => f.name)).to.deep.equal(['weft/interop.common.proto']);
    });
  });

  describe('renderProto', () => {
    it('should render readable proto3 text', () => {
      const text = renderProto(ALL).get('interop.proto')!;
      for (const line of [
        'syntax = "proto3";',
        'package interop;',
        'import "google/protobuf/timestamp.proto";',
        'import "interop/common.proto";',
        'enum Priority {',
        '  PRIORITY_LOW = 0;',
        'message Everything {',
        '  double a_double = 1;',
        '  bytes some_bytes = 15;',
        '  Priority priority = 16;',
        '  Color color = 17;',
        '  repeated int64 int64_list = 19;',
        '  repeated Inner inner_list = 21;',
        '  map<string, int64> counts_by_name = 23;',
        '  map<int32, Inner> inner_by_id = 24;',
        '  map<bool, string> label_by_flag = 25;',
        '  map<string, InnersByGroupList> inners_by_group = 26;',
        '  map<uint64, Priority> priority_by_key = 27;',
        '  optional string note_set = 29;',
        '  optional int32 zero_but_set = 31;',
        '  google.protobuf.Timestamp placed_at = 32;',
        '  Everything child = 33;',
        '  common.Money total = 34;',
        '  enum Color {',
        '    COLOR_UNSPECIFIED = 0;',
        '  message InnersByGroupList {',
        '    repeated Inner values = 1;',
      ]) expect(text.split('\n'), line).to.include(line);
      expect(text).not.to.include('Entry');
    });

    it('should pick names protoc resolves to the right type, even when shadowed', () => {
      const text = renderProto(ALL).get('exporttest/user.proto')!;
      expect(text).to.include('  exporttest.ref.Target far = 1;\n');
      expect(text).to.include('  Target near = 2;\n');
      expect(text).to.include('  map<string, exporttest.ref.Target> far_by_key = 3;\n');
      expect(text).to.include('  ref ref_field = 4;\n');
      expect(text).to.include('  map<sint64, NearListsList> near_lists = 5;\n');
      const loose = renderProto(ALL).get('weft_default.proto')!;
      expect(loose).not.to.include('package ');
      expect(loose).to.include('  exporttest.ref.Target target = 1;\n');
    });

    it('should compile with protoc into exactly the exported descriptors', () => {
      const src = join(dir, 'rendered');
      const out = join(dir, 'rendered.binpb');
      compileRendered(renderProto(ALL), src, out);
      const compiled = decodeSet(readFileSync(out));
      const exported = decodeSet(exportDescriptorSet(ALL));
      expect(typesOf(compiled)).to.deep.equal(typesOf(exported));
      const header = (f: FileObj): unknown => ({ name: f.name, package: f.package, dependency: f.dependency ?? [] });
      expect(compiled.map(header).sort((a, b) => ((a as Obj).name as string).localeCompare((b as Obj).name as string)))
        .to.deep.equal(exported.map(header).sort((a, b) => ((a as Obj).name as string).localeCompare((b as Obj).name as string)));
    });

    it('should decode Weft payloads identically once compiled', () => {
      const src = join(dir, 'rendered-decode');
      const compiled = join(dir, 'rendered-decode.binpb');
      const stored = join(dir, 'rendered-stored.binpb');
      compileRendered(renderProto([Everything, Order]), src, compiled);
      for (const [cls, value] of [[Everything, sampleEverything()], [Order, sampleOrder()]] as const) {
        const schema = schemaOf(cls as typeof Everything);
        const payload = schema.codec.encode(value as Everything);
        writeFileSync(stored, descriptorSetFromStored([schema.bytes]));
        expect(protocDecode(compiled, schema.fullName, payload)).to.equal(protocDecode(stored, schema.fullName, payload));
      }
    });

    it('should build with buf from the rendered sources', () => {
      const src = join(dir, 'rendered-buf');
      for (const [name, text] of renderProto(ALL)) {
        mkdirSync(dirname(join(src, name)), { recursive: true });
        writeFileSync(join(src, name), text);
      }
      run(BUF, ['build', src, '-o', join(dir, 'rendered-buf.binpb')]);
    });
  });

  describe('descriptorSetFromStored', () => {
    /** The raw `file` entries of a FileDescriptorSet, byte for byte. */
    const rawFiles = (set: Uint8Array): Buffer[] => {
      const r = Reader.create(set);
      const out: Buffer[] = [];
      while (r.pos < r.len) {
        expect(r.uint32()).to.equal(10);
        out.push(Buffer.from(r.bytes()));
      }
      return out;
    };

    it('should embed the stored bytes verbatim, after timestamp.proto when imported', () => {
      const bytes = schemaOf(Everything).bytes;
      const files = rawFiles(descriptorSetFromStored([bytes]));
      expect(files).to.have.length(2);
      expect(files[1].equals(Buffer.from(bytes))).to.equal(true);
      expect(decodeSet(descriptorSetFromStored([bytes])).map((f) => f.name))
        .to.deep.equal(['google/protobuf/timestamp.proto', schemaOf(Everything).file.name]);
    });

    it('should add nothing when no file imports timestamp.proto, and include identical bytes once', () => {
      const bytes = schemaOf(Money).bytes;
      const files = rawFiles(descriptorSetFromStored([bytes, Buffer.from(bytes)]));
      expect(files).to.have.length(1);
    });

    it('should refuse two stored schemas that define one type', () => {
      expect(() => descriptorSetFromStored([schemaOf(Order).bytes, schemaOf(LineItem).bytes])).to.throw(ExportError)
        .with.property('code', ExportErrorCode.FILE_CONFLICT);
    });

    it('should refuse bytes that are not a FileDescriptorProto', () => {
      expect(() => descriptorSetFromStored([Uint8Array.from([0x0a, 0xff, 0x01])])).to.throw(ExportError)
        .with.property('code', ExportErrorCode.STORED_SCHEMA_INVALID);
    });

    it('should refuse an import that was not supplied', () => {
      const T = descriptor.FileDescriptorProto;
      const bytes = T.encode(T.fromObject({ name: 'x.proto', package: 'x', dependency: ['y.proto'], syntax: 'proto3' })).finish();
      expect(() => descriptorSetFromStored([bytes])).to.throw(ExportError)
        .with.property('code', ExportErrorCode.STORED_SCHEMA_INVALID);
    });
  });
});
