import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import { flow, FlowCancelledError, FlowFailedError } from '../../../core/workflow';
import { eventsStream, parseWorkflowEvent, type WorkflowEvent } from '../../../core/events';
import { stepKeyOf } from '../../../core/workflow/messages';
import { appBackends, type Backend } from '../../helpers/backends';
import { effects, Enrich, Ingest, IngestIn, MakeReport, Summarize } from './fixtures/flow-tasks';

const orders = flow('flowtest.orders')
  .step(Ingest)
  .forEach(Enrich, { over: 'orders' })
  .collect(MakeReport, { into: 'orders' })
  .then(Summarize);

const tolerant = flow('flowtest.tolerant')
  .step(Ingest)
  .forEach(Enrich, { over: 'orders', continueOnError: true })
  .collect(MakeReport, { into: 'orders' });

const request = (count: number, extra: Partial<IngestIn> = {}): IngestIn => Object.assign(new IngestIn(), { count, ...extra });

const backends: Backend[] = appBackends('flows');

for (const backend of backends) {
  describe(`flows end to end (${backend.name})`, function () {
    this.timeout(30_000);
    let app: Weft;

    before(async () => {
      app = await Weft.create({ plugins: [await backend.plugin()], config: { logLevel: 'silent' } });
      app.flows.register(orders);
      app.flows.register(tolerant);
      await app.worker({ tasks: [Ingest, Enrich, MakeReport, Summarize], concurrency: 16, blockMs: 100 });
      // Two orchestrators in one app: they share the consumer group like instances in two processes.
      await app.orchestrator({ blockMs: 100 });
      await app.orchestrator({ blockMs: 100 });
    });

    beforeEach(() => effects.reset());

    after(async () => {
      await app.close();
      await backend.cleanup();
    });

    it('runs step -> forEach (fan-out of 10) -> collect (fan-in) -> then, with typed results and lineage', async () => {
      const run = await app.flows.start(orders, request(10), { businessKey: `ok-${backend.name}` });
      const summary = await run.result({ timeoutMs: 20_000 });
      expect(summary.text).to.equal(`10 orders, total ${Array.from({ length: 10 }, (_, i) => 10 * (i + 1) + (i + 1)).reduce((a, b) => a + b)}`);
      // Every step's effect happened once: 1 ingest + 10 enrich + 1 report + 1 summarize.
      expect(effects.runs.size).to.equal(13);
      expect([...effects.runs.values()].every((n) => n === 1)).to.equal(true);
      const state = await app.flows.state(run.executionId);
      expect(state?.status).to.equal('SUCCEEDED');
      expect(state?.sizes).to.deep.equal([1, 10, 1, 1]);
      // Fan-in keeps index order.
      const [report] = await app.app.resolve<import('../../../core/workflow').WorkflowStore>(Symbol.for('weft.workflowStore')).outputs(run.executionId, 2, 1);
      const decoded = MakeReportOutput(report!.bytes);
      expect(decoded.ids).to.deep.equal(Array.from({ length: 10 }, (_, i) => `o${i}`));
      // Dispatch records carry the flow's lineage.
      // Children have the element index as their lineage index, and the fanned-out item as parent.
      const childKeys = Array.from({ length: 10 }, (_, i) => stepKeyOf(orders.name, 'flowtest.enrich', run.executionId, i));
      expect(childKeys.every((k) => effects.runs.get(k) === 1)).to.equal(true);
      const child = await app.app.dispatchStore.get({ executionId: run.executionId, stepId: 'flowtest.enrich', idempotencyKey: childKeys[7]! });
      expect(child?.state).to.equal('ACKED');
      if (backend.name === 'memory') { // the generic ledger keeps the envelope in the record
        expect(String(child?.envelope.parent_item_id)).to.equal(stepKeyOf(orders.name, 'flowtest.ingest', run.executionId, 0));
        expect(String(child?.envelope.reply_to)).to.equal('weft.flows');
      }
      // The execution's event stream: every step started and completed (the workers' events, with
      // the fan-out's lineage indexes), then the flow's end (the orchestrator's).
      const seen: WorkflowEvent[] = [];
      for await (const ev of app.subscribe(run.executionId, { signal: AbortSignal.timeout(10_000) })) seen.push(ev);
      expect(seen.filter((e) => e.kind === 'step_started')).to.have.length(13);
      const completed = seen.filter((e) => e.kind === 'step_completed');
      expect(completed).to.have.length(13);
      expect(completed.filter((e) => e.step === 'flowtest.enrich').map((e) => e.index).sort((a, b) => a! - b!)).to.deep.equal([...Array(10).keys()]);
      expect(seen.filter((e) => e.kind.startsWith('workflow_')).map((e) => e.kind)).to.deep.equal(['workflow_completed']);
      expect(seen.at(-1)?.kind).to.equal('workflow_completed');
    });

    it('a duplicate start does nothing new and follows the first run', async () => {
      const a = await app.flows.start(orders, request(3), { businessKey: `dup-${backend.name}` });
      const b = await app.flows.start(orders, request(3), { businessKey: `dup-${backend.name}` });
      expect(a.deduplicated).to.equal(false);
      expect(b.deduplicated).to.equal(true);
      expect(b.executionId).to.equal(a.executionId);
      const [ra, rb] = await Promise.all([a.result({ timeoutMs: 20_000 }), b.result({ timeoutMs: 20_000 })]);
      expect(rb).to.deep.equal(ra);
      expect(effects.runs.size).to.equal(6);
      expect([...effects.runs.values()].every((n) => n === 1)).to.equal(true);
      // After it finished, a third start still runs nothing.
      const c = await app.flows.start(orders, request(3), { businessKey: `dup-${backend.name}` });
      expect(c.deduplicated).to.equal(true);
      expect((await c.result()).text).to.equal(ra.text);
      expect(effects.runs.size).to.equal(6);
    });

    it('a FAILED_FINAL child fails the flow, naming the step, the error and the dead letter', async () => {
      const run = await app.flows.start(orders, request(5, { failAt: [3] }), { businessKey: `fail-${backend.name}` });
      const err = await run.result({ timeoutMs: 20_000 }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(FlowFailedError);
      const f = err as FlowFailedError;
      expect(f.code).to.equal('WEFT_FLOW_FAILED');
      expect(f.failure).to.include({ step: 'flowtest.enrich', index: 3, code: 'FLOWTEST_ENRICH_FAILED', continued: false });
      expect(f.failure.deadLetter.queue).to.equal('flowtest');
      expect(f.message).to.contain("step 'flowtest.enrich'").and.contain('FLOWTEST_ENRICH_FAILED').and.contain(f.failure.deadLetter.idempotencyKey);
      // The dead letter is where the error says.
      const letters = await app.app.transport.deadLetters('flowtest', 1000);
      const letter = letters.find((l) => String(l.fields.idempotency_key) === f.failure.deadLetter.idempotencyKey);
      expect(letter, 'the dead letter of the failed child').to.not.equal(undefined);
      // ...and the error names it by id, which app.deadLetters.inspect takes.
      expect(f.failure.deadLetter.id).to.equal(letter!.id);
      expect(f.message).to.contain(letter!.id);
      expect((await app.deadLetters.inspect('flowtest', f.failure.deadLetter.id!)).summary.idempotencyKey).to.equal(f.failure.deadLetter.idempotencyKey);
      expect((await app.flows.state(run.executionId))?.status).to.equal('FAILED');
      // No report ran: ingest and the 5 children only.
      await new Promise((r) => setTimeout(r, 300));
      expect(effects.runs.size).to.equal(6);
    });

    it('a failing first step fails the flow', async () => {
      const run = await app.flows.start(orders, request(2, { failIngest: true }), { businessKey: `fail0-${backend.name}` });
      const err = await run.result({ timeoutMs: 20_000 }).then(() => undefined, (e: unknown) => e as FlowFailedError);
      expect(err?.failure).to.include({ step: 'flowtest.ingest', code: 'FLOWTEST_INGEST_BROKEN' });
    });

    it('continueOnError leaves failed children out of the fan-in and lists them', async () => {
      const run = await app.flows.start(tolerant, request(6, { failAt: [1, 4] }), { businessKey: `tol-${backend.name}` });
      const { output, failures } = await run.outcome({ timeoutMs: 20_000 });
      expect(output.ids).to.deep.equal(['o0', 'o2', 'o3', 'o5']);
      expect(failures.map((f) => [f.step, f.index, f.code, f.continued]).sort()).to.deep.equal([
        ['flowtest.enrich', 1, 'FLOWTEST_ENRICH_FAILED', true], ['flowtest.enrich', 4, 'FLOWTEST_ENRICH_FAILED', true],
      ]);
    });

    it('an empty fan-out goes straight to the fan-in', async () => {
      const run = await app.flows.start(orders, request(0), { businessKey: `empty-${backend.name}` });
      expect((await run.result({ timeoutMs: 20_000 })).text).to.equal('0 orders, total 0');
    });

    it('cancel ends the flow CANCELLED and dispatches nothing more', async () => {
      const run = await app.flows.start(orders, request(4, { enrichMs: 10_000 }), { businessKey: `cancel-${backend.name}` });
      for (let i = 0; i < 100 && (await run.status()).step !== 'flowtest.enrich'; i++) await new Promise((r) => setTimeout(r, 20));
      await run.cancel('changed my mind');
      const err = await run.result({ timeoutMs: 20_000 }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(FlowCancelledError);
      expect((err as FlowCancelledError).reason).to.equal('changed my mind');
      await new Promise((r) => setTimeout(r, 300)); // the aborted children reply WEFT_CANCELLED; the replies are ignored
      const state = await app.flows.state(run.executionId);
      expect(state?.status).to.equal('CANCELLED');
      expect(state?.stage).to.equal(1);
      expect(effects.runs.size).to.equal(1); // ingest only: the 4 enrich children were aborted mid-sleep, no report
      const seen: WorkflowEvent[] = [];
      for await (const ev of app.subscribe(run.executionId, { signal: AbortSignal.timeout(10_000) })) seen.push(ev);
      expect(seen.at(-1)?.kind).to.equal('workflow_cancelled');
      // The broadcast aborted the running children: they ended as cancelled, not completed. Their
      // events may land after the flow's terminal one (which ends a subscription), so read the log.
      const aborted = (): WorkflowEvent[] => seen.filter((e) => e.kind === 'step_failed' && e.step === 'flowtest.enrich');
      for (let i = 0; i < 100 && (i === 0 || aborted().length < 4); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        seen.length = 0;
        for (const e of await app.eventLog!.read(eventsStream(run.executionId), '0', { count: 1000 })) {
          const ev = parseWorkflowEvent(e);
          if (ev) seen.push(ev);
        }
      }
      expect(seen.filter((e) => e.kind === 'step_failed' && e.step === 'flowtest.enrich').map((e) => e.error?.code)).to.deep.equal(Array(4).fill('WEFT_CANCELLED'));
      expect(seen.filter((e) => e.kind === 'step_completed' && e.step === 'flowtest.enrich')).to.have.length(0);
    });

    it('validates the input before anything is sent', async () => {
      let err: unknown;
      try {
        await app.flows.start(orders, Object.assign(new IngestIn(), { count: -1 }));
      } catch (e) {
        err = e;
      }
      expect((err as { code?: string }).code).to.match(/^WEFT_/);
    });
  });
}

function MakeReportOutput(bytes: Buffer): { ids: string[] } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { schemaOf } = require('../../../core/schema/schema') as typeof import('../../../core/schema/schema');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Report } = require('./fixtures/flow-tasks') as typeof import('./fixtures/flow-tasks');
  return schemaOf(Report).codec.decode(bytes);
}
