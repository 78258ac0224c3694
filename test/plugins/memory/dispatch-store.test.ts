import { expect } from 'chai';
import { dispatchStoreConformance } from '../../../core/testing';
import { MemoryDispatchStore } from '../../../plugins/memory';

dispatchStoreConformance('MemoryDispatchStore (conformance)', async () => {
  const store = new MemoryDispatchStore();
  return { store, cleanup: () => store.close() };
});

describe('MemoryDispatchStore', () => {
  describe('name', () => {
    it('should be memory', () => {
      expect(new MemoryDispatchStore().name).to.equal('memory');
    });
  });

  describe('retention', () => {
    const key = (n: number) => ({ executionId: `e${n}`, stepId: 's', idempotencyKey: `k${n}` });
    const make = (store: MemoryDispatchStore, n: number, nowMs: number) =>
      store.create({ ...key(n), correlationId: 'c', envelope: { task: 't' }, nowMs });

    it('should drop terminal records once older than retentionMs, and keep open ones', async () => {
      const store = new MemoryDispatchStore({ retentionMs: 1000 });
      await make(store, 1, 0);
      await make(store, 2, 0);
      await store.transition(key(1), { from: 'PENDING', to: 'SENT', nowMs: 10 });
      await store.transition(key(1), { from: 'SENT', to: 'ACKED', nowMs: 20 });
      await make(store, 3, 1019); // not yet 1000 ms after the ACK
      expect(await store.get(key(1))).to.not.equal(undefined);
      await make(store, 4, 1020);
      expect(await store.get(key(1))).to.equal(undefined, 'expired');
      expect((await store.get(key(2)))?.state).to.equal('PENDING', 'a non-terminal record never expires');
    });

    it('should keep everything with retentionMs 0', async () => {
      const store = new MemoryDispatchStore({ retentionMs: 0 });
      await make(store, 1, 0);
      await store.transition(key(1), { from: 'PENDING', to: 'FAILED_FINAL', nowMs: 1 });
      await make(store, 2, 10_000_000);
      expect((await store.get(key(1)))?.state).to.equal('FAILED_FINAL');
    });
  });
});
