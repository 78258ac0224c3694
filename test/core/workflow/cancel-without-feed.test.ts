import { expect } from 'chai';
import type { Plugin } from '../../../core/app/plugin';
import { DISPATCH_STORE, SCHEMA_STORE, TRANSPORT, WORKFLOW_STORE } from '../../../core/app/tokens';
import { Weft } from '../../../core/runtime/weft';
import { flow, FlowCancelledError } from '../../../core/workflow';
import { MemoryDispatchStore, MemorySchemaStore, MemoryTransport, MemoryWorkflowStore } from '../../../plugins/memory';
import { effects, Enrich, Ingest, IngestIn, MakeReport } from './fixtures/flow-tasks';

const orders = flow('flowtest.nofeed')
  .step(Ingest)
  .forEach(Enrich, { over: 'orders' })
  .collect(MakeReport, { into: 'orders' });

/**
 * The orchestrator does not use the CancellationFeed (core/events/cancellation.ts): `app.flows.cancel`
 * reaches it with a cancel message on the flows queue. So a flow is cancelled even in an app with no
 * event log, where there is no feed at all (`app.cancellations` throws WEFT_EVENT_LOG_MISSING).
 */
describe('flow cancel without an event log (no CancellationFeed)', function () {
  this.timeout(20_000);

  it('should end the flow CANCELLED and dispatch nothing more, through the cancel message alone', async () => {
    const noEventLog: Plugin = {
      name: 'no-event-log', provides: ['transport', 'schemaStore', 'dispatchStore', 'workflowStore'],
      register(c) {
        c.registerInstance(TRANSPORT, new MemoryTransport());
        c.registerInstance(SCHEMA_STORE, new MemorySchemaStore());
        c.registerInstance(DISPATCH_STORE, new MemoryDispatchStore());
        c.registerInstance(WORKFLOW_STORE, new MemoryWorkflowStore());
      },
    };
    const app = await Weft.create({ plugins: [noEventLog], config: { logLevel: 'silent' } });
    try {
      expect(() => app.cancellations).to.throw().with.property('code', 'WEFT_EVENT_LOG_MISSING');
      effects.reset();
      app.flows.register(orders);
      await app.worker({ tasks: [Ingest, Enrich, MakeReport], concurrency: 8, blockMs: 100 });
      await app.orchestrator({ blockMs: 100 });
      const run = await app.flows.start(orders, Object.assign(new IngestIn(), { count: 3, enrichMs: 300 }), { businessKey: 'nofeed' });
      for (let i = 0; i < 100 && (await run.status()).step !== 'flowtest.enrich'; i++) await new Promise((r) => setTimeout(r, 20));
      await run.cancel('no feed needed');
      const err = await run.result({ timeoutMs: 10_000 }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(FlowCancelledError);
      await new Promise((r) => setTimeout(r, 600)); // the children (not aborted: no broadcast) finish; their replies are ignored
      const state = await app.flows.state(run.executionId);
      expect(state?.status).to.equal('CANCELLED');
      expect(state?.stage).to.equal(1);
      expect(effects.runs.size).to.equal(1 + 3); // ingest and the 3 enrich children; no report
    } finally {
      await app.close();
    }
  });
});
