import { expect } from 'chai';
import type { Weft as App, WorkflowEvent } from '../../core';
import { schemaOf } from '../../core';
import { WORKFLOW_STORE } from '../../core/app/tokens';
import type { WorkflowStore } from '../../core/workflow';
import { Weft } from '../../plugins';
import { memoryPlugin } from '../../plugins/memory';
import { EnrichedOrder, IngestRequest, OrderBatch } from '../../sample-app/messages';
import { ordersFlow, PipelineStepError, runOrdersPipeline } from '../../sample-app/pipeline';
import { sampleServicesPlugin, StaticFxRates } from '../../sample-app/services';
import { SAMPLE_TASKS } from '../../sample-app/tasks';

const request = (batchId: string, orderCount: number): IngestRequest =>
  Object.assign(new IngestRequest(), { batchId, orderCount, seed: 7 });

describe('sample-app/pipeline', () => {
  let app: App;

  afterEach(async () => {
    await app?.close();
  });

  async function start(rates = sampleServicesPlugin()): Promise<App> {
    app = await Weft.create({ plugins: [memoryPlugin(), rates], config: { logLevel: 'silent' } });
    app.flows.register(ordersFlow);
    await app.worker({ tasks: [...SAMPLE_TASKS], concurrency: 8, blockMs: 50 });
    await app.orchestrator({ blockMs: 50 });
    return app;
  }

  /** The outputs the flow kept of its first two stages: the batch, and the enriched orders in lineage order. */
  async function intermediates(executionId: string, count: number): Promise<{ batch: OrderBatch; enriched: EnrichedOrder[] }> {
    const store = app.app.resolve<WorkflowStore>(WORKFLOW_STORE);
    const [batch] = await store.outputs(executionId, 0, 1);
    const enriched = await store.outputs(executionId, 1, count);
    return {
      batch: schemaOf(OrderBatch).codec.decode(batch!.bytes),
      enriched: enriched.map((o) => schemaOf(EnrichedOrder).codec.decode(o!.bytes)),
    };
  }

  it('should ingest, enrich each order in lineage order, aggregate, and send the events of every step', async () => {
    await start();
    const events: WorkflowEvent[] = [];
    const result = await runOrdersPipeline(app, request('t-1', 5), { onEvent: (e) => events.push(e) });
    expect(result.deduplicated).to.equal(false);

    const { batch, enriched } = await intermediates(result.executionId, 5);
    expect(batch.orders).to.have.length(5);
    expect(enriched.map((o) => o.orderId)).to.deep.equal(batch.orders.map((o) => o.id));
    const { report } = result;
    expect(report.batchId).to.equal('t-1');
    expect(report.ingestedBy).to.deep.equal(batch.ingestedBy);
    expect(report.orderCount).to.equal(5);
    expect(report.lineCount).to.equal(batch.orders.reduce((n, o) => n + o.lines.length, 0));
    expect(report.revenueEurCents).to.equal(enriched.reduce((s, o) => s + o.totalEurCents, 0n));
    for (const [currency, cents] of report.revenueByCurrency) {
      expect(cents).to.equal(enriched.filter((o) => o.currency === currency).reduce((s, o) => s + o.totalCents, 0n));
    }
    expect([...report.ordersByCountry.values()].flat().sort()).to.deep.equal(batch.orders.map((o) => o.id).sort());
    expect(report.topSkus.length).to.be.within(1, 5);
    // Nested messages carried through: every enriched order has its batch; map of lists: every line is under its category.
    for (const o of enriched) {
      expect(o.batch.batchId).to.equal('t-1');
      expect([...o.linesByCategory.values()].flat()).to.have.length(o.lines.length);
    }

    // The events, from subscribe: every item started and completed, with the fan-out's lineage index, then the flow's end.
    const completed = events.filter((e) => e.kind === 'step_completed');
    expect(completed.map((e) => e.step)).to.deep.equal(['ingest', 'enrich', 'enrich', 'enrich', 'enrich', 'enrich', 'report']);
    expect(completed.filter((e) => e.step === 'enrich').map((e) => e.index).sort()).to.deep.equal([0, 1, 2, 3, 4]);
    expect(events.filter((e) => e.kind === 'step_started')).to.have.length(7);
    expect(events.find((e) => e.kind === 'progress' && e.step === 'ingest')).to.include({ percent: 0, message: 'reading batch t-1' });
    expect(events.filter((e) => e.kind === 'progress' && e.step === 'enrich')).to.have.length(5);
    expect(events.find((e) => e.kind === 'progress' && e.step === 'report' && e.percent === 100)).to.include({ message: 'report ready' });
    expect(events.at(-1)).to.include({ kind: 'workflow_completed', executionId: result.executionId });
  });

  it('should run nothing again when the same batch is started again, and follow the first run', async () => {
    await start();
    const first = await runOrdersPipeline(app, request('t-2', 4));
    const events: WorkflowEvent[] = [];
    const second = await runOrdersPipeline(app, request('t-2', 4), { onEvent: (e) => events.push(e) });

    expect(second.deduplicated).to.equal(true);
    expect(second.executionId).to.equal(first.executionId);
    expect(second.report).to.deep.equal(first.report);
    expect(second.report.generatedAt.getTime()).to.equal(first.report.generatedAt.getTime());
    // A late subscriber gets the first run's events, from the first: each item ran once.
    expect(events.filter((e) => e.kind === 'step_started')).to.have.length(6);
    expect(events.at(-1)?.kind).to.equal('workflow_completed');
  });

  it('should fail naming the step, the item, the remote code and the dead letter when an enrichment fails for good', async () => {
    await start(sampleServicesPlugin(new StaticFxRates(new Map([['EUR', 1_000_000n]]))));
    const events: WorkflowEvent[] = [];
    const error = await runOrdersPipeline(app, request('t-3', 6), { onEvent: (e) => events.push(e) })
      .then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(PipelineStepError);
    const failed = error as PipelineStepError;
    expect(failed.code).to.equal('SAMPLE_PIPELINE_STEP_FAILED');
    expect(failed).to.include({ step: 'enrich', remoteCode: 'SAMPLE_UNKNOWN_CURRENCY', queue: 'orders.enrich' });
    expect(failed.index).to.be.a('number');
    expect(failed.message).to.match(new RegExp(`^step enrich #${failed.index} failed with SAMPLE_UNKNOWN_CURRENCY: .*no EUR rate for "(USD|GBP|CHF)"`));
    expect(failed.deadLetterId).to.be.a('string');
    expect(failed.message).to.contain(`app.deadLetters.inspect('orders.enrich', '${failed.deadLetterId}')`).and.contain(failed.idempotencyKey);
    // A final error: dead-lettered at once, not retried; the dead letter is the one the error names.
    const letters = await app.deadLetters.list('orders.enrich');
    const letter = letters.find((l) => l.idempotencyKey === failed.idempotencyKey);
    expect(letter?.id).to.equal(failed.deadLetterId);
    expect(letter).to.include({ code: 'SAMPLE_UNKNOWN_CURRENCY', attempt: 0, task: 'orders.enrich@1' });
    // The events said so too.
    expect(events.find((e) => e.kind === 'step_failed' && e.index === failed.index)).to.deep.include({ step: 'enrich' });
    expect(events.at(-1)?.kind).to.equal('workflow_failed');
  });

  it('should cancel the flow when the signal fires, aborting the running enrichments', async () => {
    await start();
    const abort = new AbortController();
    const events: WorkflowEvent[] = [];
    const error = await runOrdersPipeline(app, request('t-4', 6), {
      signal: abort.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.kind === 'step_started' && e.step === 'enrich') abort.abort('operator said stop');
      },
    }).then(() => undefined, (e: unknown) => e as { code?: string; reason?: string });
    expect(error?.code).to.equal('WEFT_FLOW_CANCELLED');
    expect(error?.reason).to.equal('operator said stop');
    expect(events.at(-1)?.kind).to.equal('workflow_cancelled');
    expect(events.some((e) => e.step === 'report')).to.equal(false);
  });
});
