import { expect } from 'chai';
import { container } from 'tsyringe';
import { WORKFLOW_STORE } from '../../../core/app/tokens';
import { workflowStoreConformance } from '../../../core/testing';
import { memoryPlugin } from '../../../plugins/memory';
import {
  DEFAULT_MEMORY_WORKFLOW_MAX_FINISHED, DEFAULT_MEMORY_WORKFLOW_RETENTION_MS, MemoryWorkflowStore,
} from '../../../plugins/memory/workflow-store';

let nowMs = 0;
workflowStoreConformance('MemoryWorkflowStore', async () => {
  nowMs = 1_000_000;
  const store = new MemoryWorkflowStore({ retentionMs: 10_000, now: () => nowMs });
  return { store, cleanup: () => store.close(), expireTerminal: async () => { nowMs += 10_001; } };
});

describe('MemoryWorkflowStore bounds (retention, cap, sweeps)', () => {
  const input = { bytes: Buffer.from('in'), schemaId: 's' };
  let clock = 0;
  const make = (options: { retentionMs?: number; maxFinished?: number } = {}): MemoryWorkflowStore =>
    new MemoryWorkflowStore({ ...options, now: () => clock });
  const start = (store: MemoryWorkflowStore, id: string) =>
    store.create({ executionId: id, flow: 'f', input, startKey: `k-${id}`, nowMs: clock });
  const finish = async (store: MemoryWorkflowStore, id: string): Promise<void> => {
    const s = (await store.get(id))!;
    expect((await store.update(id, s.version, { status: 'SUCCEEDED', nowMs: clock })).ok).to.equal(true);
  };
  beforeEach(() => { clock = 1_000_000; });

  it('should keep a finished execution 1 hour and at most 10,000 finished executions by default', async () => {
    const store = make();
    expect(store.retentionMs).to.equal(DEFAULT_MEMORY_WORKFLOW_RETENTION_MS).and.to.equal(3_600_000);
    expect(store.maxFinished).to.equal(DEFAULT_MEMORY_WORKFLOW_MAX_FINISHED).and.to.equal(10_000);
    await start(store, 'a');
    await finish(store, 'a');
    clock += 3_600_000 - 1;
    expect((await store.get('a'))?.status).to.equal('SUCCEEDED');
    clock += 1;
    expect(await store.get('a')).to.equal(undefined);
    expect(store.size).to.equal(0);
  });

  it('should sweep expired executions on every operation, not only create', async () => {
    for (const op of ['get', 'outputs', 'recordMany', 'update', 'delete'] as const) {
      const store = make({ retentionMs: 10_000 });
      for (const id of ['x', 'y']) await start(store, id);
      for (const id of ['x', 'y']) await finish(store, id);
      await start(store, 'running');
      clock += 10_001;
      expect(store.size, op).to.equal(3);
      if (op === 'get') await store.get('other');
      if (op === 'outputs') await store.outputs('other', 0, 1);
      if (op === 'recordMany') await store.recordMany('other', [{ stage: 0, index: 0, output: input, nowMs: clock }]);
      if (op === 'update') await store.update('other', 1, { status: 'FAILED', nowMs: clock });
      if (op === 'delete') await store.delete('other');
      expect(store.size, `${op} sweeps the expired ones`).to.equal(1);
      expect(store.finishedCount, op).to.equal(0);
      expect((await store.get('running'))?.status, op).to.equal('RUNNING');
    }
  });

  it('should sweep at most once a second', async () => {
    const store = make({ retentionMs: 500 });
    await start(store, 'a');
    await finish(store, 'a'); // expires at +500
    await store.get('other'); // sweeps now: nothing expired
    clock += 600;
    await store.get('other'); // within the second: no sweep
    expect(store.size).to.equal(1);
    clock += 400;
    await store.get('other');
    expect(store.size).to.equal(0);
  });

  it('should keep at most maxFinished finished executions, dropping the oldest finished first, never a running one', async () => {
    const store = make({ maxFinished: 3, retentionMs: 0 });
    for (const id of ['r', 'a', 'b', 'c', 'd', 'e']) await start(store, id); // r started first and stays running
    for (const id of ['c', 'a', 'e', 'b']) {
      clock += 1;
      await finish(store, id);
    }
    expect(store.finishedCount).to.equal(3);
    expect(await store.get('c'), 'the oldest finished is dropped').to.equal(undefined);
    for (const id of ['a', 'e', 'b']) expect((await store.get(id))?.status, id).to.equal('SUCCEEDED');
    for (const id of ['r', 'd']) expect((await store.get(id))?.status, id).to.equal('RUNNING');
    await finish(store, 'd');
    expect(await store.get('a')).to.equal(undefined);
    expect(store.size).to.equal(4); // r, e, b, d
    // A long time later, a running execution is still there (retention applies to finished ones only).
    clock += 365 * 24 * 3_600_000;
    expect((await store.get('r'))?.status).to.equal('RUNNING');
  });

  it('should refuse a negative or fractional retentionMs or maxFinished', () => {
    for (const options of [{ retentionMs: -1 }, { maxFinished: -1 }, { maxFinished: 1.5 }, { retentionMs: Number.NaN }]) {
      expect(() => new MemoryWorkflowStore(options), JSON.stringify(options)).to.throw().with.property('code', 'WEFT_FLOW_STORE_ARGUMENT_INVALID');
    }
  });

  it('should take the options of the store memoryPlugin creates from memoryPlugin({ workflows })', () => {
    const c = container.createChildContainer();
    memoryPlugin({ workflows: { retentionMs: 5_000, maxFinished: 7 } }).register!(c, {} as never);
    const store = c.resolve<MemoryWorkflowStore>(WORKFLOW_STORE);
    expect(store).to.be.instanceOf(MemoryWorkflowStore);
    expect([store.retentionMs, store.maxFinished]).to.deep.equal([5_000, 7]);
    const d = container.createChildContainer();
    memoryPlugin().register!(d, {} as never);
    expect(d.resolve<MemoryWorkflowStore>(WORKFLOW_STORE).retentionMs).to.equal(3_600_000);
  });
});
