/**
 * The sample's tasks. A worker needs only this module (and the services it injects) to run them:
 * `sample-app/worker.ts` attaches to Redis with nothing else.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'tsyringe';
import { Run, Task } from '../decorators';
import { FatalError, type TaskContext } from '../core';
import {
  BatchRef, EnrichedOrder, IncomingOrder, IngestRequest, Invoice, Order, OrderBatch, PricedLine, Report, ReportRequest, SkuStat,
} from './messages';
import { FX_RATES, FxRates, OrderFeed, ProductCatalog, thisWorker } from './services';

/** Prices an order: a task that any worker with this module can run. */
@Task('demo.priceOrder', { queue: 'demo', output: () => Invoice })
export class PriceOrder {
  @Run()
  async run(order: Order, ctx: TaskContext): Promise<Invoice> {
    await ctx.progress(50, `pricing ${order.items.length} items`);
    const totalCents = order.items.reduce((sum, item) => sum + item.totalCents, 0n);
    return Object.assign(new Invoice(), { orderId: order.id, totalCents, lines: order.items.length });
  }
}

/** Step 1, ingestion: reads one batch of orders from the feed. */
@Task('orders.ingest', { queue: 'orders.ingest', output: () => OrderBatch, retries: 2 })
export class IngestOrders {
  /** The feed is injected by class: `OrderFeed` is a tsyringe `@singleton()`. */
  constructor(private readonly feed: OrderFeed) {}

  @Run()
  async run(request: IngestRequest, ctx: TaskContext): Promise<OrderBatch> {
    await ctx.progress(0, `reading batch ${request.batchId}`);
    const batch = Object.assign(new BatchRef(), { batchId: request.batchId, ingestedBy: thisWorker(), receivedAt: new Date() });
    // Every order carries its batch: the steps after this one see only their own order.
    const orders = this.feed.read(request.batchId, request.orderCount, request.seed).map((o) => Object.assign(o, { batch }));
    await sleep(50, undefined, { signal: ctx.signal });
    await ctx.progress(100, `read ${orders.length} orders`);
    return Object.assign(new OrderBatch(), {
      batchId: request.batchId, orders, receivedAt: batch.receivedAt, ingestedBy: batch.ingestedBy,
    });
  }
}

/**
 * Step 2, enrichment, one run per order (fanned out): prices every line from the catalog and
 * converts it into the order's currency.
 */
@Task('orders.enrich', { queue: 'orders.enrich', output: () => EnrichedOrder, retries: 3 })
export class EnrichOrder {
  /** Two services: the catalog by class, the FX rates by token (registered by `sampleServicesPlugin`). */
  constructor(
    private readonly catalog: ProductCatalog,
    @inject(FX_RATES) private readonly fx: FxRates,
  ) {}

  @Run()
  async run(order: IncomingOrder, ctx: TaskContext): Promise<EnrichedOrder> {
    const rate = this.fx.eurTo(order.currency);
    // Stands in for a remote catalog lookup; aborts if the worker stops hard or a deadline passes.
    await sleep(40 + (order.lines.length * 25), undefined, { signal: ctx.signal });
    const lines = order.lines.map((line) => {
      const product = this.catalog.product(line.sku);
      const unitCents = (product.priceEurCents * rate + 500_000n) / 1_000_000n;
      return Object.assign(new PricedLine(), {
        sku: line.sku, title: product.title, category: product.category, quantity: line.quantity,
        unitCents, totalCents: unitCents * BigInt(line.quantity), totalEurCents: product.priceEurCents * BigInt(line.quantity),
      });
    });
    await ctx.progress(50, `${order.id}: priced ${lines.length} line${lines.length === 1 ? '' : 's'} in ${order.currency}`);
    await sleep(30, undefined, { signal: ctx.signal });
    const linesByCategory = new Map<string, PricedLine[]>();
    for (const line of lines) linesByCategory.set(line.category, [...(linesByCategory.get(line.category) ?? []), line]);
    return Object.assign(new EnrichedOrder(), {
      orderId: order.id,
      customer: order.customer,
      currency: order.currency,
      lines,
      linesByCategory,
      totalCents: lines.reduce((s, l) => s + l.totalCents, 0n),
      totalEurCents: lines.reduce((s, l) => s + l.totalEurCents, 0n),
      fxMicros: rate,
      enrichedBy: thisWorker(),
      batch: order.batch,
    });
  }
}

/** How many SKUs the report lists. */
export const TOP_SKUS = 5;

/** Step 3, aggregation: one run over every enriched order of the batch (the flow's fan-in). */
@Task('orders.report', { queue: 'orders.report', output: () => Report })
export class BuildReport {
  @Run()
  async run(request: ReportRequest, ctx: TaskContext): Promise<Report> {
    await ctx.progress(0, `aggregating ${request.orders.length} orders`);
    const batch = batchOf(request.orders);
    const revenueByCurrency = new Map<string, bigint>();
    const ordersByCountry = new Map<string, string[]>();
    const enrichedByWorker = new Map<string, number>();
    const skus = new Map<string, SkuStat>();
    let lineCount = 0;
    let unitCount = 0;
    let revenueEurCents = 0n;
    for (const order of request.orders) {
      revenueByCurrency.set(order.currency, (revenueByCurrency.get(order.currency) ?? 0n) + order.totalCents);
      revenueEurCents += order.totalEurCents;
      const country = order.customer.address.country;
      ordersByCountry.set(country, [...(ordersByCountry.get(country) ?? []), order.orderId]);
      const who = `${order.enrichedBy.pid}@${order.enrichedBy.host}`;
      enrichedByWorker.set(who, (enrichedByWorker.get(who) ?? 0) + 1);
      for (const line of order.lines) {
        lineCount += 1;
        unitCount += line.quantity;
        const stat = skus.get(line.sku) ?? Object.assign(new SkuStat(), { sku: line.sku, title: line.title, units: 0, revenueEurCents: 0n });
        stat.units += line.quantity;
        stat.revenueEurCents += line.totalEurCents;
        skus.set(line.sku, stat);
      }
    }
    await ctx.progress(50, `${lineCount} lines, ${skus.size} SKUs`);
    const topSkus = [...skus.values()]
      .sort((a, b) => (b.revenueEurCents > a.revenueEurCents ? 1 : b.revenueEurCents < a.revenueEurCents ? -1 : a.sku.localeCompare(b.sku)))
      .slice(0, TOP_SKUS);
    await ctx.progress(100, 'report ready');
    return Object.assign(new Report(), {
      batchId: batch.batchId,
      orderCount: request.orders.length, lineCount, unitCount,
      revenueByCurrency: new Map([...revenueByCurrency].sort(([a], [b]) => a.localeCompare(b))),
      revenueEurCents,
      topSkus,
      ordersByCountry: new Map([...ordersByCountry].sort(([a], [b]) => a.localeCompare(b))),
      enrichedByWorker,
      reportedBy: thisWorker(),
      generatedAt: new Date(),
      ingestedBy: batch.ingestedBy,
    });
  }
}

/** The one batch that every order of a report belongs to. @throws a final error for no orders or orders of several batches. */
function batchOf(orders: readonly EnrichedOrder[]): BatchRef {
  const batch = orders[0]?.batch;
  const others = new Set(orders.map((o) => o.batch?.batchId));
  if (!batch || others.size !== 1) {
    throw new FatalError(`a report covers the orders of one batch; got ${orders.length} orders ` +
      `of batches ${[...others].map((b) => JSON.stringify(b ?? '')).join(', ') || 'none'}`);
  }
  return batch;
}

/** Every task a sample worker runs. */
export const SAMPLE_TASKS = [PriceOrder, IngestOrders, EnrichOrder, BuildReport] as const;
