import { expect } from 'chai';
import { SchemaRegistry, RegistryConflictError, SchemaInput } from '../../../core/registry';
import {
  ErrorCode, SchemaCorruptError, SchemaIncompatibleError, SchemaInvalidError, SchemaNotFoundError,
} from '../../../core/errors';
import type { CompatibilityIssue } from '../../../core/errors';
import type { CompatibilityMode, SubjectVersion } from '../../../core/schema/compat';
import { schemaOf } from '../../../core/schema/schema';
import { schemaIdOf } from '../../../core/schema/schema-id';
import { MemorySchemaStore } from '../../../plugins/memory';
import { Order } from '../../fixtures/shop';
import { CountingStore, handSchema } from './hand-schemas';

const SUBJECT = 'test.registry.Foo';
const v1 = handSchema(SUBJECT, [{ name: 'id', number: 1, type: 'string' }]);
const v2 = handSchema(SUBJECT, [{ name: 'id', number: 1, type: 'string' }, { name: 'count', number: 2, type: 'int32' }]);
const v3 = handSchema(SUBJECT, [
  { name: 'id', number: 1, type: 'string' }, { name: 'count', number: 2, type: 'int32' }, { name: 'tags', number: 3, type: 'string', repeated: true },
]);
/** Field 2 changes from int32 to string: not wire compatible. */
const v2Broken = handSchema(SUBJECT, [{ name: 'id', number: 1, type: 'string' }, { name: 'count', number: 2, type: 'string' }]);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try { await p; } catch (e) { return e; }
  throw new Error('expected a rejection');
}

function setup(options: ConstructorParameters<typeof SchemaRegistry>[1] = {}) {
  const memory = new MemorySchemaStore();
  const store = new CountingStore(memory);
  return { memory, store, registry: new SchemaRegistry(store, options) };
}

describe('SchemaRegistry', () => {
  describe('register', () => {
    it('should register the first schema of a subject as version 1', async () => {
      const { registry } = setup();
      const r = await registry.register(v1);
      expect(r).to.deep.equal({ subject: SUBJECT, id: v1.id, version: 1, created: true });
      expect(await registry.versions(SUBJECT)).to.deep.equal([{ version: 1, id: v1.id }]);
    });

    it('should accept a schema built from decorated classes', async () => {
      const { registry, memory } = setup();
      const s = schemaOf(Order);
      const r = await registry.register(s);
      expect(r.version).to.equal(1);
      expect(Buffer.from((await memory.getSchema(s.id))!).equals(Buffer.from(s.bytes))).to.equal(true);
    });

    it('should be idempotent for an id the subject already holds', async () => {
      const { registry, store } = setup();
      await registry.register(v1);
      await registry.register(v2);
      const again = await registry.register(v1);
      expect(again).to.deep.equal({ subject: SUBJECT, id: v1.id, version: 1, created: false });
      expect(store.count('addVersion')).to.equal(2);
      expect(await registry.versions(SUBJECT)).to.have.length(2);
    });

    it('should give increasing versions to compatible new schemas', async () => {
      const { registry } = setup();
      expect((await registry.register(v1)).version).to.equal(1);
      expect((await registry.register(v2)).version).to.equal(2);
      expect((await registry.register(v3)).version).to.equal(3);
      expect((await registry.versions(SUBJECT)).map((v) => v.id)).to.deep.equal([v1.id, v2.id, v3.id]);
    });

    it('should refuse a schema the compatibility check rejects and write nothing', async () => {
      const issue: CompatibilityIssue = { message: SUBJECT, field: 'count (2)', rule: 'FIELD_TYPE_CHANGED', detail: 'int32 -> string', againstVersion: 1 };
      const { registry, memory } = setup({ checkCompatibility: (_s, candidate) => (schemaIdOf(candidate) === v2Broken.id ? [issue] : []) });
      await registry.register(v1);
      const err = await rejection(registry.register(v2Broken));
      expect(err).to.be.instanceOf(SchemaIncompatibleError);
      expect((err as SchemaIncompatibleError).code).to.equal(ErrorCode.SCHEMA_INCOMPATIBLE);
      expect((err as SchemaIncompatibleError).issues).to.deep.equal([issue]);
      expect((err as Error).message).to.contain('count (2)').and.contain('FIELD_TYPE_CHANGED').and.contain('BACKWARD');
      expect(await memory.getSchema(v2Broken.id)).to.equal(undefined);
      expect(await registry.versions(SUBJECT)).to.have.length(1);
    });

    it('should refuse an incompatible type change with the real compatibility check', async () => {
      const { registry } = setup();
      await registry.register(v1);
      await registry.register(v2);
      const err = await rejection(registry.register(v2Broken));
      expect(err).to.be.instanceOf(SchemaIncompatibleError);
      expect((err as SchemaIncompatibleError).issues.map((i) => i.field)).to.include('count (2)');
      expect(await registry.versions(SUBJECT)).to.have.length(2);
    });

    it('should check against the full ascending history under the subject\'s mode', async () => {
      const seen: { history: readonly SubjectVersion[]; mode: CompatibilityMode }[] = [];
      const { registry } = setup({ checkCompatibility: (_s, _c, history, mode) => { seen.push({ history, mode }); return []; } });
      await registry.register(v1);
      await registry.setMode(SUBJECT, 'FULL_TRANSITIVE');
      await registry.register(v2);
      await registry.register(v3);
      expect(seen).to.have.length(2); // nothing to check against for v1
      expect(seen[1].mode).to.equal('FULL_TRANSITIVE');
      expect(seen[1].history.map((h) => [h.version, h.id])).to.deep.equal([[1, v1.id], [2, v2.id]]);
      expect(Buffer.from(seen[1].history[1].bytes).equals(Buffer.from(v2.bytes))).to.equal(true);
    });

    it('should skip the check when the mode is NONE', async () => {
      let calls = 0;
      const { registry } = setup({ checkCompatibility: () => { calls++; return [{ message: SUBJECT, field: '', rule: 'X', detail: 'always' }]; } });
      await registry.register(v1);
      await registry.setMode(SUBJECT, 'NONE');
      expect((await registry.register(v2Broken)).version).to.equal(2);
      expect(calls).to.equal(0);
    });

    it('should retry when another writer moves the latest version between check and write', async () => {
      const { registry, store } = setup();
      await registry.register(v1);
      let raced = false;
      store.beforeAddVersion = async (subject) => {
        if (raced) return;
        raced = true;
        await store.inner.putSchema(v2.id, v2.bytes);
        await store.inner.addVersion(subject, v2.id, 1); // a racing process wins version 2
      };
      const r = await registry.register(v3);
      expect(r.version).to.equal(3);
      expect(store.count('addVersion')).to.equal(3); // v1, the conflicting attempt, the retry
      expect((await registry.versions(SUBJECT)).map((v) => v.version)).to.deep.equal([1, 2, 3]);
    });

    it('should re-check compatibility against the new latest version after a conflict', async () => {
      const { registry, store } = setup({
        checkCompatibility: (_s, candidate, history) =>
          schemaIdOf(candidate) === v3.id && history.some((h) => h.id === v2Broken.id)
            ? [{ message: SUBJECT, field: 'count (2)', rule: 'FIELD_TYPE_CHANGED', detail: 'string -> int32' }] : [],
      });
      await registry.register(v1);
      store.beforeAddVersion = async (subject) => {
        store.beforeAddVersion = undefined;
        await store.inner.putSchema(v2Broken.id, v2Broken.bytes);
        await store.inner.addVersion(subject, v2Broken.id, 1);
      };
      expect(await rejection(registry.register(v3))).to.be.instanceOf(SchemaIncompatibleError);
    });

    it('should treat an id registered by a racing writer as already registered', async () => {
      const { registry, store } = setup();
      await registry.register(v1);
      store.beforeAddVersion = async (subject) => {
        store.beforeAddVersion = undefined;
        await store.inner.putSchema(v2.id, v2.bytes);
        await store.inner.addVersion(subject, v2.id, 1);
      };
      expect(await registry.register(v2)).to.deep.equal({ subject: SUBJECT, id: v2.id, version: 2, created: false });
    });

    it('should give up with RegistryConflictError after maxRegisterAttempts lost races', async () => {
      const { registry, store } = setup({ maxRegisterAttempts: 3 });
      await registry.register(v1);
      let n = 0;
      store.beforeAddVersion = async (subject) => {
        const other = handSchema(SUBJECT, [{ name: 'id', number: 1, type: 'string' }, { name: `x${n}`, number: 10 + n, type: 'bool' }]);
        n++;
        const latest = (await store.inner.listVersions(subject)).length;
        await store.inner.putSchema(other.id, other.bytes);
        await store.inner.addVersion(subject, other.id, latest);
      };
      const err = await rejection(registry.register(v2));
      expect(err).to.be.instanceOf(RegistryConflictError);
      expect((err as RegistryConflictError).code).to.equal(ErrorCode.REGISTRY_CONFLICT);
    });

    it('should refuse a schema whose id is not the hash of its bytes', async () => {
      const { registry, store } = setup();
      const bad: SchemaInput = { ...v1, id: v2.id };
      expect(await rejection(registry.register(bad))).to.be.instanceOf(SchemaInvalidError);
      expect(store.count('putSchema')).to.equal(0);
    });

    it('should refuse bytes that do not define the subject\'s message', async () => {
      const { registry } = setup();
      const other: SchemaInput = { ...v1, fullName: 'test.registry.Bar' };
      expect(await rejection(registry.register(other))).to.be.instanceOf(SchemaInvalidError);
    });
  });

  describe('ensure', () => {
    it('should reach the store once per schema id for concurrent and repeated calls', async () => {
      const { registry, store } = setup();
      const results = await Promise.all(Array.from({ length: 50 }, () => registry.ensure(v1)));
      for (let i = 0; i < 50; i++) await registry.ensure(v1);
      expect(new Set(results.map((r) => r.version))).to.deep.equal(new Set([1]));
      expect(store.count('putSchema')).to.equal(1);
      expect(store.count('addVersion')).to.equal(1);
      expect(store.count('listVersions')).to.equal(1);
    });

    it('should forget a failure so that the next call retries', async () => {
      const { registry, store } = setup();
      const inner = store.inner as MemorySchemaStore;
      const original = inner.putSchema.bind(inner);
      let fail = true;
      inner.putSchema = async (id, bytes) => {
        if (fail) { fail = false; throw new Error('store down'); }
        return original(id, bytes);
      };
      expect((await rejection(registry.ensure(v1)) as Error).message).to.equal('store down');
      expect((await registry.ensure(v1)).version).to.equal(1);
    });

    it('should let a producer resolve its own schema without a store read', async () => {
      const { registry, store } = setup();
      await registry.ensure(v1);
      expect((await registry.resolve(v1.id)).id).to.equal(v1.id);
      expect(store.count('getSchema')).to.equal(0);
    });
  });

  describe('resolve', () => {
    it('should return the verified bytes and the parsed descriptor', async () => {
      const { registry, memory } = setup();
      await memory.putSchema(v2.id, v2.bytes);
      const r = await registry.resolve(v2.id);
      expect(r.id).to.equal(v2.id);
      expect(Buffer.from(r.bytes).equals(Buffer.from(v2.bytes))).to.equal(true);
      expect(r.package).to.equal('test.registry');
      expect(r.messageNames).to.deep.equal([SUBJECT]);
      expect(r.file.syntax).to.equal('proto3');
      const fields = (r.file.messageType as { field: { name: string; number: number }[] }[])[0].field;
      expect(fields.map((f) => [f.name, f.number])).to.deep.equal([['id', 1], ['count', 2]]);
    });

    it('should fetch an id once, for concurrent and sequential calls', async () => {
      const { registry, memory, store } = setup();
      await memory.putSchema(v1.id, v1.bytes);
      const all = await Promise.all(Array.from({ length: 100 }, () => registry.resolve(v1.id)));
      for (let i = 0; i < 100; i++) await registry.resolve(v1.id);
      expect(new Set(all).size).to.equal(1);
      expect(store.count('getSchema')).to.equal(1);
    });

    it('should throw SchemaCorruptError when the stored bytes do not hash to the id', async () => {
      const { registry, memory } = setup();
      memory.tamper(v1.id, v2.bytes);
      const err = await rejection(registry.resolve(v1.id));
      expect(err).to.be.instanceOf(SchemaCorruptError);
      expect((err as SchemaCorruptError).code).to.equal(ErrorCode.SCHEMA_CORRUPT);
      expect((err as SchemaCorruptError).schemaId).to.equal(v1.id);
    });

    it('should throw SchemaCorruptError when bytes that match their id do not parse', async () => {
      const { registry, memory } = setup();
      const garbage = Uint8Array.from([0xff, 0xff, 0xff, 0xff]);
      const id = schemaIdOf(garbage);
      await memory.putSchema(id, garbage);
      expect(await rejection(registry.resolve(id))).to.be.instanceOf(SchemaCorruptError);
    });

    it('should throw SchemaNotFoundError and not ask the store again within notFoundTtlMs', async () => {
      let now = 1_000;
      const { registry, store, memory } = setup({ notFoundTtlMs: 500, now: () => now });
      const err = await rejection(registry.resolve(v1.id));
      expect(err).to.be.instanceOf(SchemaNotFoundError);
      expect((err as SchemaNotFoundError).code).to.equal(ErrorCode.SCHEMA_NOT_FOUND);
      await Promise.all(Array.from({ length: 100 }, () => rejection(registry.resolve(v1.id))));
      expect(store.count('getSchema')).to.equal(1);
      await memory.putSchema(v1.id, v1.bytes);
      now += 499;
      expect(await rejection(registry.resolve(v1.id))).to.be.instanceOf(SchemaNotFoundError);
      now += 1;
      expect((await registry.resolve(v1.id)).id).to.equal(v1.id);
      expect(store.count('getSchema')).to.equal(2);
    });

    it('should share one store read between concurrent resolves of an unknown id', async () => {
      const { registry, store } = setup();
      const errs = await Promise.all(Array.from({ length: 100 }, () => rejection(registry.resolve(v3.id))));
      expect(errs.every((e) => e instanceof SchemaNotFoundError)).to.equal(true);
      expect(store.count('getSchema')).to.equal(1);
    });

    it('should refuse a malformed id without a store read', async () => {
      const { registry, store } = setup();
      expect(await rejection(registry.resolve('not-an-id'))).to.be.instanceOf(SchemaNotFoundError);
      expect(store.count('getSchema')).to.equal(0);
    });

    it('should keep at most maxCachedSchemas entries, evicting the least recently used', async () => {
      const { registry, memory, store } = setup({ maxCachedSchemas: 2 });
      for (const s of [v1, v2, v3]) await memory.putSchema(s.id, s.bytes);
      await registry.resolve(v1.id);
      await registry.resolve(v2.id);
      await registry.resolve(v1.id); // v1 is now the most recent
      await registry.resolve(v3.id); // evicts v2
      expect(store.count('getSchema')).to.equal(3);
      await registry.resolve(v1.id);
      expect(store.count('getSchema')).to.equal(3);
      await registry.resolve(v2.id);
      expect(store.count('getSchema')).to.equal(4);
    });
  });

  describe('resolveMany', () => {
    it('should read the missing ids in one batch and settle each on its own', async () => {
      const { registry, memory, store } = setup();
      await memory.putSchema(v1.id, v1.bytes);
      await memory.putSchema(v2.id, v2.bytes);
      await registry.resolve(v1.id);
      const out = await registry.resolveMany([v1.id, v2.id, v3.id, v2.id]);
      expect(out.map((o) => o.status)).to.deep.equal(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect((out[2] as PromiseRejectedResult).reason).to.be.instanceOf(SchemaNotFoundError);
      expect(store.count('getSchemas')).to.equal(1);
      expect(store.count('getSchema')).to.equal(1);
      await registry.resolveMany([v1.id, v2.id, v3.id]);
      expect(store.count('getSchemas')).to.equal(1);
    });
  });

  describe('getMode', () => {
    it('should default to BACKWARD, or to the configured default', async () => {
      expect(await setup().registry.getMode(SUBJECT)).to.equal('BACKWARD');
      expect(await setup({ defaultMode: 'FULL' }).registry.getMode(SUBJECT)).to.equal('FULL');
    });
  });

  describe('setMode', () => {
    it('should store the subject\'s mode', async () => {
      const { registry } = setup();
      await registry.setMode(SUBJECT, 'FORWARD_TRANSITIVE');
      expect(await registry.getMode(SUBJECT)).to.equal('FORWARD_TRANSITIVE');
      expect(await registry.getMode('test.registry.Other')).to.equal('BACKWARD');
    });

    it('should refuse an unknown mode', async () => {
      const { registry } = setup();
      expect(await rejection(registry.setMode(SUBJECT, 'SIDEWAYS' as CompatibilityMode))).to.be.instanceOf(SchemaInvalidError);
    });
  });

  describe('versions', () => {
    it('should list nothing for an unknown subject', async () => {
      expect(await setup().registry.versions('test.registry.Nope')).to.deep.equal([]);
    });
  });
});
