/**
 * The orchestrator under injected faults (memory plugins, one process): a store call that throws
 * stands for an instance that died at that point; the message stays pending and is redone.
 */
import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import type { Client } from '../../../core/runtime/client';
import { Orchestrator, type FlowEventEmitter } from '../../../core/workflow/orchestrator';
import type { WorkflowStore } from '../../../core/workflow/store';
import { FLOWS_QUEUE, stepKeyOf } from '../../../core/workflow/messages';
import { memoryPlugin } from '../../../plugins/memory';
import { runs, Split, strict, StrictIn, Sum, Work } from './fixtures/strict-flow';

const input = (x: Partial<StrictIn>): StrictIn => Object.assign(new StrictIn(), { count: 3, ...x });

describe('Orchestrator under faults (memory)', function () {
  this.timeout(30_000);
  let app: Weft;
  const orchestrators: Orchestrator[] = [];

  beforeEach(async () => {
    runs.clear();
    app = await Weft.create({ plugins: [memoryPlugin()], config: { logLevel: 'silent' } });
    app.flows.register(strict);
    await app.worker({ tasks: [Split, Work, Sum], concurrency: 8, blockMs: 50 });
  });

  afterEach(async () => {
    await Promise.all(orchestrators.splice(0).map((o) => o.close()));
    await app.close();
  });

  /** The app's store with some calls replaced. */
  function storeWith(patch: (real: WorkflowStore) => Partial<WorkflowStore>): WorkflowStore {
    const real = app.app.resolve<WorkflowStore>(Symbol.for('weft.workflowStore'));
    const bound = Object.fromEntries((['create', 'get', 'recordMany', 'outputs', 'update', 'delete', 'close'] as const)
      .map((k) => [k, (real[k] as (...a: unknown[]) => unknown).bind(real)]));
    return { name: real.name, ...bound, ...patch(real) } as WorkflowStore;
  }

  type Dispatch = ConstructorParameters<typeof Orchestrator>[0]['dispatch'];
  function orchestrator(store: WorkflowStore, options: { batch?: number; visibilityTimeoutMs?: number; emit?: FlowEventEmitter; dispatch?: (real: Dispatch) => Dispatch } = {}): Orchestrator {
    const real: Dispatch = (def, items, opts) => (app as unknown as { client: Client }).client.dispatchEncoded(def, items, opts);
    const { dispatch, ...rest } = options;
    const o = new Orchestrator({
      transport: app.app.transport, ledger: app.ledger, store, flows: app.flows.registry, logger: app.app.logger,
      dispatch: dispatch ? dispatch(real) : real,
    }, { blockMs: 50, visibilityTimeoutMs: 500, ...rest }).start();
    orchestrators.push(o);
    return o;
  }

  it('a failure recorded by an instance that died before failing the flow still fails it: the fan-in never runs', async () => {
    let crashes = 0;
    // Replies one by one, and the first attempt to end the flow FAILED "dies" after the failure was recorded.
    orchestrator(storeWith((real) => ({
      update: async (id, v, c) => {
        if (c.status === 'FAILED' && crashes === 0) {
          crashes++;
          throw new Error('simulated crash between recording the failure and failing the flow');
        }
        return real.update(id, v, c);
      },
    })), { batch: 1 });
    const run = await app.flows.start(strict, input({ slowMs: 300 }));
    const err = await run.result({ timeoutMs: 15_000 }).then(() => undefined, (e: { code?: string }) => e);
    expect(crashes).to.equal(1);
    expect(err?.code).to.equal('WEFT_FLOW_FAILED');
    expect((await app.flows.state(run.executionId))?.status).to.equal('FAILED');
    expect(runs.get('sum') ?? 0).to.equal(0);
  });

  it('an instance that died between a stage change and its dispatch: the redelivered reply dispatches the stage', async () => {
    let crashes = 0;
    orchestrator(storeWith(() => ({})), {
      visibilityTimeoutMs: 300,
      dispatch: (real) => async (def, items, opts) => {
        if (opts.step === 'ofault.work' && crashes === 0) {
          crashes++;
          throw new Error('simulated crash after the stage change, before the fan-out was dispatched');
        }
        return real(def, items, opts);
      },
    });
    const run = await app.flows.start(strict, input({ count: 5, noFail: true }));
    expect((await run.result({ timeoutMs: 15_000 })).n).to.equal(5);
    expect(crashes).to.equal(1);
    expect(runs.get('work')).to.equal(5);
    expect(runs.get('split')).to.equal(1);
  });

  it('a cancel handled before its start (another instance holds the start) ends the flow CANCELLED', async () => {
    // Two instances read one message at a time; creating a state is slow, so the cancel is
    // handled by one instance while the other is still creating the state from the start.
    // Only the start's create is slow (a cancel's placeholder has no flow name): the cancel is
    // handled, with no state yet, while the start is still on its way.
    const store = storeWith((real) => ({
      create: async (init) => {
        if (init.flow !== '') await new Promise((r) => setTimeout(r, 200));
        return real.create(init);
      },
    }));
    orchestrator(store, { batch: 1 });
    orchestrator(store, { batch: 1 });
    await new Promise((r) => setTimeout(r, 100));
    const run = await app.flows.start(strict, input({ count: 2, noFail: true, slowMs: 50 }));
    await run.cancel('stop');
    const err = await run.result({ timeoutMs: 15_000 }).then(() => undefined, (e: { code?: string }) => e);
    expect(err?.code).to.equal('WEFT_FLOW_CANCELLED');
    expect((await app.flows.state(run.executionId))?.status).to.equal('CANCELLED');
    await new Promise((r) => setTimeout(r, 300)); // the start has been handled by now
    // The start found the CANCELLED state and dispatched nothing: no record of the first step.
    const splitKey = { executionId: run.executionId, stepId: 'ofault.split', idempotencyKey: stepKeyOf(strict.name, 'ofault.split', run.executionId, 0) };
    expect(await app.app.dispatchStore.get(splitKey), 'a dispatch of the first step').to.equal(undefined);
    expect(runs.get('split') ?? 0).to.equal(0);
    expect(runs.get('sum') ?? 0).to.equal(0);
  });

  it('app.cancel on a running flow (the workers\' broadcast only) ends it CANCELLED, not FAILED', async () => {
    orchestrator(storeWith(() => ({})));
    const run = await app.flows.start(strict, input({ count: 4, noFail: true, slowMs: 5_000 }));
    for (let i = 0; i < 200 && (runs.get('work') ?? 0) < 4; i++) await new Promise((r) => setTimeout(r, 20));
    await app.cancel(run.executionId, 'withdrawn');
    const err = await run.result({ timeoutMs: 15_000 }).then(() => undefined, (e: { code?: string }) => e);
    expect(err?.code).to.equal('WEFT_FLOW_CANCELLED');
    expect((await app.flows.state(run.executionId))?.status).to.equal('CANCELLED');
  });

  it('an end event whose write failed is written when the message that ended the flow comes back', async () => {
    const written: string[] = [];
    let refused = 0;
    orchestrator(storeWith(() => ({})), {
      visibilityTimeoutMs: 300,
      emit: async (_id, ev) => {
        if (ev.kind === 'workflow_completed' && refused++ === 0) throw new Error('event log unavailable');
        written.push(ev.kind);
      },
    });
    const run = await app.flows.start(strict, input({ count: 2, noFail: true }));
    expect((await run.result({ timeoutMs: 10_000 })).n).to.equal(2);
    for (let i = 0; i < 200 && !written.includes('workflow_completed'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(refused).to.be.at.least(1);
    expect(written).to.deep.equal(['workflow_completed']);
  });

  it('a flow message no instance can handle is dead-lettered after a few deliveries, and the orchestrator goes on', async () => {
    // A state naming a flow this orchestrator does not know: every handling of its replies throws.
    const store = storeWith(() => ({}));
    await store.create({ executionId: 'orphan-1', flow: 'ofault.unknown', input: { bytes: Buffer.alloc(0), schemaId: '' }, startKey: '', nowMs: Date.now() });
    orchestrator(store, { visibilityTimeoutMs: 100 });
    await app.app.transport.publish(FLOWS_QUEUE, [{ kind: 'error', execution_id: 'orphan-1', idempotency_key: 'k', code: 'X', message: 'x' }]);
    let letters: unknown[] = [];
    for (let i = 0; i < 300 && letters.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      letters = await app.app.transport.deadLetters(FLOWS_QUEUE);
    }
    expect(letters).to.have.length(1);
    // Still working: a normal flow completes.
    const run = await app.flows.start(strict, input({ count: 2, noFail: true }));
    expect((await run.result({ timeoutMs: 10_000 })).n).to.equal(2);
  });
});
