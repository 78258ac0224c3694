import assert from 'node:assert/strict';
import type { FlowStepFailure } from '../workflow/errors';
import type { NewWorkflow, StoredOutput, WorkflowRecord, WorkflowState, WorkflowStore } from '../workflow/store';

/** A ready, empty store and a way to release it. */
export interface WorkflowStoreFixture {
  readonly store: WorkflowStore;
  /** Releases everything the fixture created. Must tolerate a closed store. */
  cleanup(): Promise<void>;
  /**
   * Optional: makes terminal executions expire now (a store with a real TTL cannot be waited on in
   * a test). When absent, the retention test is skipped; give the store a short retention instead.
   */
  expireTerminal?(executionId: string): Promise<void>;
}

/** Makes a fresh {@link WorkflowStoreFixture}; called once per test. */
export type WorkflowStoreFactory = () => Promise<WorkflowStoreFixture>;

const out = (text: string, schemaId = 'sid1'): StoredOutput => ({ bytes: Buffer.from(text), schemaId });
const failure = (index: number): FlowStepFailure => ({
  step: 'enrich', stage: 1, index, code: 'WEFT_TASK_FAILED', message: `boom ${index}`,
  deadLetter: { queue: 'q', idempotencyKey: `k${index}` }, continued: true,
});
let counter = 0;
const fresh = (): NewWorkflow => ({
  executionId: `exec-${process.pid}-${++counter}-${Math.random().toString(16).slice(2)}`, flow: 'orders',
  input: out('input', 'in-sid'), startKey: 'start-key', nowMs: 1000,
});

/**
 * Registers a mocha suite proving a {@link WorkflowStore} behaves as the orchestrator expects:
 * idempotent `create`; `record` counts each (stage, index) once, refuses other stages and
 * finished executions, and appends failures; `outputs` by index; compare-and-set `update` where
 * exactly one of many concurrent callers wins; terminal states; `delete`; binary-safe values.
 *
 * @example
 * ```ts
 * workflowStoreConformance('MyWorkflowStore', async () => {
 *   const store = new MyWorkflowStore({ url });
 *   await store.init?.();
 *   return { store, cleanup: () => store.close() };
 * });
 * ```
 */
export function workflowStoreConformance(name: string, factory: WorkflowStoreFactory): void {
  describe(`${name}: workflowStore conformance`, function () {
    this.timeout(10_000);
    let fx: WorkflowStoreFixture;
    let store: WorkflowStore;
    beforeEach(async () => {
      fx = await factory();
      store = fx.store;
    });
    afterEach(async () => fx.cleanup());
    /** One entry through `recordMany`, as `{ outcome, state }`. */
    const record = async (executionId: string, entry: WorkflowRecord): Promise<
      { outcome: 'recorded' | 'duplicate' | 'stale'; state: WorkflowState } | { outcome: 'missing' }
    > => {
      const { kinds, state } = await store.recordMany(executionId, [entry]);
      return kinds[0] === 'missing' || !state ? { outcome: 'missing' } : { outcome: kinds[0]!, state };
    };

    it('create is idempotent and starts RUNNING at stage 0 with one item', async () => {
      const init = fresh();
      const a = await store.create(init);
      assert.equal(a.created, true);
      assert.equal(a.state.status, 'RUNNING');
      assert.equal(a.state.stage, 0);
      assert.deepEqual(a.state.sizes, [1]);
      assert.equal(a.state.recorded, 0);
      assert.equal(a.state.flow, 'orders');
      assert.equal(a.state.startKey, 'start-key');
      assert.deepEqual(a.state.failures, []);
      const b = await store.create({ ...init, flow: 'other', input: out('other') });
      assert.equal(b.created, false);
      assert.equal(b.state.flow, 'orders');
      assert.equal(b.state.input.bytes.toString(), 'input');
      assert.equal(b.state.input.schemaId, 'in-sid');
      const got = await store.get(init.executionId);
      assert.equal(got?.version, a.state.version);
      assert.equal(await store.get('no-such-execution'), undefined);
    });

    it('record counts each index of the current stage once, and refuses other stages', async () => {
      const init = fresh();
      const id = init.executionId;
      const { state } = await store.create(init);
      const r1 = await record(id, { stage: 0, index: 0, output: out('a'), nowMs: 2000 });
      assert.equal(r1.outcome, 'recorded');
      assert.ok('state' in r1 && r1.state.recorded === 1 && r1.state.version > state.version);
      const r2 = await record(id, { stage: 0, index: 0, output: out('different'), nowMs: 2001 });
      assert.equal(r2.outcome, 'duplicate');
      assert.ok('state' in r2 && r2.state.recorded === 1);
      const r3 = await record(id, { stage: 1, index: 0, output: out('b'), nowMs: 2002 });
      assert.equal(r3.outcome, 'stale');
      const [o] = await store.outputs(id, 0, 1);
      assert.equal(o?.bytes.toString(), 'a');
      assert.equal((await record('no-such-execution', { stage: 0, index: 0, output: out('x'), nowMs: 1 })).outcome, 'missing');
    });

    it('many concurrent records of a fan-out stage count exactly once per index', async () => {
      const init = fresh();
      const id = init.executionId;
      const { state } = await store.create(init);
      const moved = await store.update(id, state.version, { stage: 1, size: 20, nowMs: 3000 });
      assert.ok(moved.ok);
      const calls = [];
      for (let i = 0; i < 20; i++) for (let copy = 0; copy < 3; copy++) calls.push(record(id, { stage: 1, index: i, output: out(`c${i}`), nowMs: 3001 }));
      const results = await Promise.all(calls);
      assert.equal(results.filter((r) => r.outcome === 'recorded').length, 20);
      const now = await store.get(id);
      assert.equal(now?.recorded, 20);
      assert.deepEqual(now?.sizes, [1, 20]);
      const outputs = await store.outputs(id, 1, 20);
      assert.deepEqual(outputs.map((o) => o?.bytes.toString()), Array.from({ length: 20 }, (_, i) => `c${i}`));
    });

    it('recordMany records in order, once per index, and reports each entry', async () => {
      const init = fresh();
      const id = init.executionId;
      const { state } = await store.create(init);
      await store.update(id, state.version, { stage: 1, size: 4, nowMs: 3000 });
      const a = await store.recordMany(id, [
        { stage: 1, index: 0, output: out('a0'), nowMs: 3001 },
        { stage: 1, index: 1, failure: failure(1), nowMs: 3001 },
        { stage: 1, index: 0, output: out('again'), nowMs: 3001 }, // the same index twice in one call
        { stage: 0, index: 0, output: out('old'), nowMs: 3001 }, // an earlier stage
      ]);
      assert.deepEqual(a.kinds, ['recorded', 'recorded', 'duplicate', 'stale']);
      assert.equal(a.state?.recorded, 2);
      assert.deepEqual(a.state?.failures, [failure(1)]);
      const b = await store.recordMany(id, [
        { stage: 1, index: 1, output: out('late'), nowMs: 3002 },
        { stage: 1, index: 2, output: out('a2'), nowMs: 3002 },
        { stage: 1, index: 3, output: out('a3'), nowMs: 3002 },
      ]);
      assert.deepEqual(b.kinds, ['duplicate', 'recorded', 'recorded']);
      assert.equal(b.state?.recorded, 4);
      assert.equal((await store.get(id))?.version, b.state?.version);
      assert.deepEqual((await store.outputs(id, 1, 4)).map((o) => o?.bytes.toString()), ['a0', undefined, 'a2', 'a3']);
      const none = await store.recordMany('no-such-execution', [{ stage: 0, index: 0, output: out('x'), nowMs: 1 }]);
      assert.deepEqual(none, { kinds: ['missing'], state: undefined });
    });

    it('a failure counts as an outcome, leaves no output, and is listed', async () => {
      const init = fresh();
      const id = init.executionId;
      const { state } = await store.create(init);
      await store.update(id, state.version, { stage: 1, size: 3, nowMs: 3000 });
      await record(id, { stage: 1, index: 0, output: out('x'), nowMs: 1 });
      assert.equal((await record(id, { stage: 1, index: 1, failure: failure(1), nowMs: 2 })).outcome, 'recorded');
      assert.equal((await record(id, { stage: 1, index: 1, failure: failure(1), nowMs: 3 })).outcome, 'duplicate');
      assert.equal((await record(id, { stage: 1, index: 1, output: out('late'), nowMs: 4 })).outcome, 'duplicate');
      const s = await store.get(id);
      assert.equal(s?.recorded, 2);
      assert.deepEqual(s?.failures, [failure(1)]);
      const outputs = await store.outputs(id, 1, 3);
      assert.equal(outputs[0]?.bytes.toString(), 'x');
      assert.equal(outputs[1], undefined);
      assert.equal(outputs[2], undefined);
    });

    it('update is a compare-and-set: of many concurrent callers exactly one wins', async () => {
      const init = fresh();
      const id = init.executionId;
      const { state } = await store.create(init);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.update(id, state.version, { stage: 1, size: i + 1, nowMs: 5000 })));
      assert.equal(results.filter((r) => r.ok).length, 1);
      const lost = results.find((r) => !r.ok);
      assert.ok(lost && !lost.ok && lost.current?.version === state.version + 1);
      const s = await store.get(id);
      assert.equal(s?.stage, 1);
      assert.equal(s?.recorded, 0);
      assert.equal(s?.updatedAtMs, 5000);
      const missing = await store.update('no-such-execution', 1, { status: 'CANCELLED', nowMs: 1 });
      assert.deepEqual(missing, { ok: false, current: undefined });
    });

    it('a terminal state refuses records and keeps its error or reason', async () => {
      const a = fresh();
      const { state } = await store.create(a);
      const done = await store.update(a.executionId, state.version, { status: 'FAILED', error: { code: 'WEFT_FLOW_FAILED', message: 'step x' }, nowMs: 6000 });
      assert.ok(done.ok && done.state.status === 'FAILED');
      assert.equal((await record(a.executionId, { stage: 0, index: 0, output: out('late'), nowMs: 1 })).outcome, 'stale');
      assert.deepEqual((await store.get(a.executionId))?.error, { code: 'WEFT_FLOW_FAILED', message: 'step x' });
      const b = fresh();
      const sb = (await store.create(b)).state;
      await store.update(b.executionId, sb.version, { status: 'CANCELLED', cancelReason: 'user', nowMs: 6000 });
      const got = await store.get(b.executionId);
      assert.equal(got?.status, 'CANCELLED');
      assert.equal(got?.cancelReason, 'user');
    });

    it('terminal executions expire after the retention', async function () {
      if (!fx.expireTerminal) this.skip();
      const a = fresh();
      const { state } = await store.create(a);
      await store.update(a.executionId, state.version, { status: 'SUCCEEDED', nowMs: 7000 });
      await fx.expireTerminal!(a.executionId);
      assert.equal(await store.get(a.executionId), undefined);
    });

    it('values are binary-safe and copied', async () => {
      const init = { ...fresh(), input: { bytes: Buffer.from([0, 255, 10, 13, 0]), schemaId: 'bin' } };
      const { state } = await store.create(init);
      (state.input.bytes as Buffer)[0] = 9;
      const bytes = Buffer.from([0xff, 0, 0x80, 0x0a]);
      await record(init.executionId, { stage: 0, index: 0, output: { bytes, schemaId: 's' }, nowMs: 1 });
      bytes[0] = 1;
      const got = await store.get(init.executionId);
      assert.deepEqual([...got!.input.bytes], [0, 255, 10, 13, 0]);
      const [o] = await store.outputs(init.executionId, 0, 1);
      assert.deepEqual([...o!.bytes], [0xff, 0, 0x80, 0x0a]);
    });

    it('delete removes the execution', async () => {
      const init = fresh();
      await store.create(init);
      assert.equal(await store.delete(init.executionId), true);
      assert.equal(await store.get(init.executionId), undefined);
      assert.equal(await store.delete(init.executionId), false);
    });
  });
}
