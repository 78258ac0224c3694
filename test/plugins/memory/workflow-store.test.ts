import { workflowStoreConformance } from '../../../core/testing';
import { MemoryWorkflowStore } from '../../../plugins/memory/workflow-store';

let nowMs = 0;
workflowStoreConformance('MemoryWorkflowStore', async () => {
  nowMs = 1_000_000;
  const store = new MemoryWorkflowStore({ retentionMs: 10_000, now: () => nowMs });
  return { store, cleanup: () => store.close(), expireTerminal: async () => { nowMs += 10_001; } };
});
