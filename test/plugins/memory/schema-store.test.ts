import { expect } from 'chai';
import { handSchema } from '../../core/registry/hand-schemas';
import { MemorySchemaStore } from '../../../plugins/memory';

const SUBJECT = 'test.memory.Foo';
const a = handSchema(SUBJECT, [{ name: 'id', number: 1, type: 'string' }]);
const b = handSchema(SUBJECT, [{ name: 'id', number: 1, type: 'string' }, { name: 'n', number: 2, type: 'int64' }]);

describe('MemorySchemaStore', () => {
  describe('putSchema', () => {
    it('should keep the first writer\'s bytes and a copy of them', async () => {
      const store = new MemorySchemaStore();
      const bytes = Uint8Array.from(a.bytes);
      expect(await store.putSchema(a.id, bytes)).to.equal(true);
      expect(await store.putSchema(a.id, b.bytes)).to.equal(false);
      bytes[0] ^= 0xff;
      const got = (await store.getSchema(a.id))!;
      expect(Buffer.from(got).equals(Buffer.from(a.bytes))).to.equal(true);
      got[0] ^= 0xff;
      expect(Buffer.from((await store.getSchema(a.id))!).equals(Buffer.from(a.bytes))).to.equal(true);
    });
  });

  describe('getSchemas', () => {
    it('should answer in the order asked', async () => {
      const store = new MemorySchemaStore();
      await store.putSchema(b.id, b.bytes);
      const out = await store.getSchemas([a.id, b.id]);
      expect(out[0]).to.equal(undefined);
      expect(Buffer.from(out[1]!).equals(Buffer.from(b.bytes))).to.equal(true);
    });
  });

  describe('addVersion', () => {
    it('should compare-and-set on the latest version and report known ids', async () => {
      const store = new MemorySchemaStore();
      expect(await store.addVersion(SUBJECT, a.id, 0)).to.deep.equal({ status: 'added', version: 1 });
      expect(await store.addVersion(SUBJECT, b.id, 0)).to.deep.equal({ status: 'conflict', latestVersion: 1 });
      expect(await store.addVersion(SUBJECT, b.id, 1)).to.deep.equal({ status: 'added', version: 2 });
      expect(await store.addVersion(SUBJECT, a.id, 2)).to.deep.equal({ status: 'exists', version: 1 });
      expect(await store.listVersions(SUBJECT)).to.deep.equal([{ version: 1, id: a.id }, { version: 2, id: b.id }]);
    });
  });

  describe('setMode', () => {
    it('should store a mode per subject', async () => {
      const store = new MemorySchemaStore();
      expect(await store.getMode(SUBJECT)).to.equal(undefined);
      await store.setMode(SUBJECT, 'FULL');
      expect(await store.getMode(SUBJECT)).to.equal('FULL');
      await store.close();
    });
  });
});
