import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import * as descriptorExt from 'protobufjs/ext/descriptor';
import { expect } from 'chai';
import { decodeFileDescriptor, timestampFileDescriptor } from '../../../core/schema/descriptor';
import { isSchemaId, schemaIdOf, verifySchemaId } from '../../../core/schema/schema-id';
import { schemaOf } from '../../../core/schema/schema';
import { Order } from '../../fixtures/shop';
import { AllTypes } from './fixtures/all-types';
import { Root } from './fixtures/split-a';
import { Part } from './fixtures/split-b';
import { make } from './fixtures/helpers';

type Msg = { name: string; field: Fld[]; nestedType: Msg[]; enumType: Enm[]; oneofDecl: { name: string }[]; options?: { mapEntry?: boolean } };
type Fld = { name: string; number: number; label: number; type: number; typeName?: string; oneofIndex?: number; proto3Optional?: boolean };
type Enm = { name: string; value: { name: string; number: number }[] };
type File = { name: string; package: string; dependency?: string[]; messageType: Msg[]; enumType: Enm[]; syntax: string };

const fileOf = (ctor: abstract new () => unknown): File => decodeFileDescriptor(schemaOf(ctor).bytes) as unknown as File;

/** Every message and enum of a file by full name, with a leading dot. */
function index(file: File): { messages: Map<string, Msg>; enums: Map<string, Enm> } {
  const messages = new Map<string, Msg>();
  const enums = new Map<string, Enm>();
  const walk = (prefix: string, ms: Msg[], es: Enm[]): void => {
    for (const e of es ?? []) enums.set(`${prefix}.${e.name}`, e);
    for (const m of ms ?? []) {
      messages.set(`${prefix}.${m.name}`, m);
      walk(`${prefix}.${m.name}`, m.nestedType, m.enumType);
    }
  };
  walk(file.package ? `.${file.package}` : '', file.messageType, file.enumType);
  return { messages, enums };
}

describe('descriptor builder', () => {
  for (const [name, ctor] of [['shop.Order', Order], ['t.all.AllTypes', AllTypes], ['t.desc.Root', Root]] as const) {
    describe(`${name}`, () => {
      const file = fileOf(ctor);
      const { messages, enums } = index(file);

      it('is proto3, in the root package, and imports only google/protobuf/* files', () => {
        expect(file.syntax).to.equal('proto3');
        expect(file.package).to.equal(name.slice(0, name.lastIndexOf('.')));
        for (const d of file.dependency ?? []) expect(d).to.match(/^google\/protobuf\/[a-z_]+\.proto$/);
      });

      it('is self-contained: every type reference resolves inside the file or to a well-known type', () => {
        for (const m of messages.values()) {
          for (const f of m.field) {
            if (!f.typeName) continue;
            if (f.typeName.startsWith('.google.protobuf.')) {
              expect(file.dependency).to.include('google/protobuf/timestamp.proto');
              expect(f.typeName).to.equal('.google.protobuf.Timestamp');
            } else if (f.type === 14) expect(enums.has(f.typeName), f.typeName).to.equal(true);
            else expect(messages.has(f.typeName), f.typeName).to.equal(true);
          }
        }
      });

      it('gives map entries the map_entry option and the key/value shape', () => {
        for (const m of messages.values()) {
          for (const f of m.field) {
            const target = f.typeName ? messages.get(f.typeName) : undefined;
            if (!target?.options?.mapEntry) continue;
            expect(f.label).to.equal(3);
            expect(target.name).to.match(/Entry$/);
            expect(target.field.map((x) => [x.name, x.number, x.label])).to.deep.equal([['key', 1, 1], ['value', 2, 1]]);
          }
        }
      });

      it('starts every enum at 0, and numbers fields in order', () => {
        for (const e of enums.values()) expect(e.value[0].number, e.name).to.equal(0);
        for (const m of messages.values()) {
          const nums = m.field.map((f) => f.number);
          expect(nums).to.deep.equal([...nums].sort((a, b) => a - b));
        }
      });

      it('uses proto3_optional with one synthetic oneof per optional field', () => {
        for (const m of messages.values()) {
          const optional = m.field.filter((f) => f.proto3Optional);
          expect(m.oneofDecl ?? []).to.have.length(optional.length);
          optional.forEach((f, i) => {
            expect(f.oneofIndex).to.equal(i);
            expect(m.oneofDecl[i].name).to.equal(`_${f.name}`);
          });
          for (const f of m.field) if (!f.proto3Optional) expect(f.oneofIndex).to.equal(undefined);
        }
      });

      it('protobufjs can load it (with timestamp.proto) and decode what the codec writes', () => {
        const set = descriptorExt.FileDescriptorSet.fromObject({ file: [timestampFileDescriptor(), decodeFileDescriptor(schemaOf(ctor as abstract new () => unknown).bytes)] });
        const root = (protobuf.Root as unknown as { fromDescriptor(s: unknown): protobuf.Root }).fromDescriptor(set);
        root.resolveAll();
        expect(root.lookupType(name)).to.be.instanceOf(protobuf.Type);
      });
    });
  }

  it('describes the shop Order as the issue says', () => {
    const { messages, enums } = index(fileOf(Order));
    const order = messages.get('.shop.Order')!;
    const f = (n: string): Fld => order.field.find((x) => x.name === n)!;
    expect(f('total').type).to.equal(3); // int64
    expect(f('placed_at').typeName).to.equal('.google.protobuf.Timestamp');
    expect(f('note').proto3Optional).to.equal(true);
    expect(f('by_warehouse').typeName).to.equal('.shop.Order.ByWarehouseEntry');
    expect(messages.get('.shop.Order.ByWarehouseEntry')!.field[1].typeName).to.equal('.shop.Order.ByWarehouseList');
    expect(messages.get('.shop.Order.ByWarehouseList')!.field[0]).to.include({ name: 'values', number: 1, label: 3, typeName: '.shop.LineItem' });
    expect(enums.get('.shop.Priority')!.value.map((v) => v.name)).to.deep.equal(['PRIORITY_LOW', 'PRIORITY_NORMAL', 'PRIORITY_HIGH']);
    expect(enums.get('.shop.Order.Channel')!.value.map((v) => [v.name, v.number]))
      .to.deep.equal([['CHANNEL_UNSPECIFIED', 0], ['CHANNEL_WEB', 1], ['CHANNEL_STORE', 2], ['CHANNEL_PHONE', 3]]);
  });

  it('handles types from another package (renamed into the root package) and round-trips through them', () => {
    const { messages, enums } = index(fileOf(Root));
    expect(messages.has('.t.desc.other_pkg__Part')).to.equal(true);
    expect(enums.has('.t.desc.other_pkg__Level')).to.equal(true);
    expect(messages.has('.t.desc.other_pkg__Part.SubEntry')).to.equal(true);
    // Part's own schema keeps its own package
    expect(fileOf(Part).package).to.equal('other.pkg');
    const c = schemaOf(Root).codec;
    const part = make(Part, { label: 'p', level: 1, sub: new Map([[1, make(Part, { label: 'q', level: 0, sub: new Map() })]]) });
    const v = make(Root, { parts: [part], byName: new Map([['x', [part]]]), kind: 'beta' as never, at: new Date(5), note: undefined,
      count: 0n, self: undefined });
    expect(c.decode(c.encode(v))).to.deep.equal(v);
  });

  describe('schema id', () => {
    it('is the first 32 lowercase hex digits of SHA-256 over the bytes', () => {
      for (const ctor of [Order, AllTypes, Root, Part] as (abstract new () => unknown)[]) {
        const s = schemaOf(ctor);
        const full = createHash('sha256').update(s.bytes).digest('hex');
        expect(s.id).to.equal(full.slice(0, 32));
        expect(s.id).to.match(/^[0-9a-f]{32}$/);
        expect(schemaIdOf(s.bytes)).to.equal(s.id);
        expect(verifySchemaId(s.id, s.bytes)).to.equal(true);
        expect(verifySchemaId(full.slice(0, 16), s.bytes)).to.equal(true);
        const corrupt = Uint8Array.from(s.bytes);
        corrupt[corrupt.length - 1] ^= 1;
        expect(verifySchemaId(s.id, corrupt)).to.equal(false);
      }
    });

    it('differs between schemas and is stable across calls', () => {
      expect(schemaOf(Order).id).to.not.equal(schemaOf(Root).id);
      expect(schemaOf(Order)).to.equal(schemaOf(Order));
      expect(isSchemaId(schemaOf(Order).id)).to.equal(true);
      expect(isSchemaId('ABC')).to.equal(false);
    });
  });

  describe('canonical bytes across processes', function () {
    this.timeout(60_000);
    const repo = path.resolve(__dirname, '../../..');
    const run = (script: string): Promise<string> => new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['-r', 'ts-node/register', '-r', 'reflect-metadata', script], { cwd: repo });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited ${code}: ${err}`))));
    });

    it('two separate Node processes, importing modules in different orders, print byte-identical schemas', async () => {
      const [a, b, c] = await Promise.all([
        run('test/core/schema/fixtures/print-schema.ts'),
        run('test/core/schema/fixtures/print-schema.ts'),
        run('test/core/schema/fixtures/print-schema-reordered.ts'),
      ]);
      const here = `${Buffer.from(schemaOf(Order).bytes).toString('hex')}\n${Buffer.from(schemaOf(Root).bytes).toString('hex')}\n`;
      expect(a.length).to.be.greaterThan(100);
      expect(a).to.equal(b);
      expect(c).to.equal(a);
      expect(a).to.equal(here);
    });
  });
});
