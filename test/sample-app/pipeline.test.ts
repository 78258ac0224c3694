import { expect } from 'chai';
import type { Weft as App } from '../../core';
import { Weft } from '../../plugins';
import { memoryPlugin } from '../../plugins/memory';
import { IngestRequest } from '../../sample-app/messages';
import { runOrdersPipeline, type PipelineEvent } from '../../sample-app/pipeline';
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
    await app.worker({ tasks: [...SAMPLE_TASKS], concurrency: 8 });
    return app;
  }

  it('should ingest, enrich each order in lineage order, aggregate, and report progress', async () => {
    await start();
    const events: PipelineEvent[] = [];
    const result = await runOrdersPipeline(app, request('t-1', 5), { onEvent: (e) => events.push(e) });

    expect(result.batch.orders).to.have.length(5);
    expect(result.enriched.map((o) => o.orderId)).to.deep.equal(result.batch.orders.map((o) => o.id));
    const { report } = result;
    expect(report.orderCount).to.equal(5);
    expect(report.lineCount).to.equal(result.batch.orders.reduce((n, o) => n + o.lines.length, 0));
    expect(report.revenueEurCents).to.equal(result.enriched.reduce((s, o) => s + o.totalEurCents, 0n));
    for (const [currency, cents] of report.revenueByCurrency) {
      expect(cents).to.equal(result.enriched.filter((o) => o.currency === currency).reduce((s, o) => s + o.totalCents, 0n));
    }
    expect([...report.ordersByCountry.values()].flat().sort()).to.deep.equal(result.batch.orders.map((o) => o.id).sort());
    expect(report.topSkus.length).to.be.within(1, 5);
    // Map of lists: every line is under its category.
    for (const o of result.enriched) {
      expect([...o.linesByCategory.values()].flat()).to.have.length(o.lines.length);
    }

    expect(events.filter((e) => e.kind === 'completed').map((e) => e.step)).to.deep.equal(
      ['ingest', 'enrich', 'enrich', 'enrich', 'enrich', 'enrich', 'report']);
    expect(events.find((e) => e.kind === 'dispatched' && e.step === 'enrich')).to.include({ count: 5, deduplicated: 0 });
    expect(events.some((e) => e.kind === 'progress' && e.step === 'ingest')).to.equal(true);
  });

  it('should dispatch nothing new when the same batch runs again (deterministic idempotency keys)', async () => {
    await start();
    const first = await runOrdersPipeline(app, request('t-2', 4));
    const events: PipelineEvent[] = [];
    const second = await runOrdersPipeline(app, request('t-2', 4), { onEvent: (e) => events.push(e) });

    expect(second.executionId).to.equal(first.executionId);
    expect(events.filter((e) => e.kind === 'dispatched').map((e) => [e.step, e.kind === 'dispatched' && e.deduplicated]))
      .to.deep.equal([['ingest', 1], ['enrich', 4], ['report', 1]]);
    expect(second.report.revenueEurCents).to.equal(first.report.revenueEurCents);
    expect(second.report.generatedAt.getTime()).to.equal(first.report.generatedAt.getTime());
  });

  it('should fail with the step, the item and the remote code when an enrichment fails for good', async () => {
    await start(sampleServicesPlugin(new StaticFxRates(new Map([['EUR', 1_000_000n]]))));
    const error = await runOrdersPipeline(app, request('t-3', 6)).then(() => undefined, (e: unknown) => e as Error & { code?: string; step?: string });
    expect(error?.code).to.equal('SAMPLE_PIPELINE_STEP_FAILED');
    expect(error?.step).to.equal('enrich');
    expect(error?.message).to.match(/^step enrich #\d+ failed with SAMPLE_UNKNOWN_CURRENCY: .*no EUR rate for "(USD|GBP|CHF)"/);
    expect(error?.message).to.contain("app.deadLetters.list('orders.enrich')");
    // A final error: dead-lettered at once, not retried.
    const letters = await waitFor(() => app.deadLetters.list('orders.enrich'), (l) => l.length > 0);
    expect(letters[0]).to.include({ code: 'SAMPLE_UNKNOWN_CURRENCY', attempt: 0, task: 'orders.enrich@1' });
  });
});

async function waitFor<T>(get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}
