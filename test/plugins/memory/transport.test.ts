import { expect } from 'chai';
import { transportConformance } from '../../../core/testing';
import { MemoryTransport } from '../../../plugins/memory';

transportConformance('MemoryTransport', async () => {
  const transport = new MemoryTransport();
  return { transport, cleanup: () => transport.close() };
});
