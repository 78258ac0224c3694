import { eventLogConformance } from '../../../core/testing';
import { MemoryEventLog } from '../../../plugins/memory';

eventLogConformance('MemoryEventLog (conformance)', async () => {
  const log = new MemoryEventLog();
  return { log, cleanup: () => log.close() };
});
