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
});
