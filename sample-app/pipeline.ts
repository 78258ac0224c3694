/**
 * The order pipeline's orchestration, and nothing else: ingestion → enrichment fanned out per
 * order → aggregation into a report.
 *
 * @remarks
 * This is the one module to switch to the workflow API when it lands (`flow('orders')
 * .step(IngestOrders).fanOut(EnrichOrder).then(BuildReport)`, events by `subscribe(executionId)`).
 * Until then it drives the steps itself with `app.submit`/`app.submitMany`, the way the
 * orchestrator will: every step goes through the replay-safe dispatch layer under one execution,
 * with deterministic idempotency keys from (pipeline `orders`, step, batch id, lineage index), and
 * each enrichment records the ingestion as its parent and its order's position as its lineage
 * index. Running the same batch id again therefore dispatches nothing new: each handle follows the
 * record of the first run.
 *
 * Progress: tasks call `ctx.progress({ percent, message })`; this module polls the handles'
 * `status()` and reports what changed through `onEvent` (the workflow events will replace that).
 */
import type { Weft } from '../core';
import { taskDefinitionOf, WeftError } from '../core';
import type { TaskHandle } from '../core';
import { money } from './format';
import { EnrichedOrder, IngestRequest, OrderBatch, Report, ReportRequest, WorkerRef } from './messages';
import { BuildReport, EnrichOrder, IngestOrders } from './tasks';

/** The pipeline's stable name: part of every idempotency key. */
export const PIPELINE = 'orders';

/** The pipeline's steps, in order. */
export type PipelineStep = 'ingest' | 'enrich' | 'report';

/** The task of each step. */
export const STEP_TASKS = { ingest: IngestOrders, enrich: EnrichOrder, report: BuildReport } as const;

/** What the pipeline reports while it runs. */
export type PipelineEvent =
  /** A step was dispatched: `count` items (more than one for the fan-out). */
  | { readonly kind: 'dispatched'; readonly step: PipelineStep; readonly count: number; readonly deduplicated: number }
  /** A running item called `ctx.progress({ percent, message })`. */
  | { readonly kind: 'progress'; readonly step: PipelineStep; readonly index?: number; readonly percent?: number; readonly message?: string }
  /** An item finished. */
  | { readonly kind: 'completed'; readonly step: PipelineStep; readonly index?: number; readonly message: string; readonly worker?: WorkerRef };

/** Options of {@link runOrdersPipeline}. */
export interface RunPipelineOptions {
  /** Called for every event, in order. */
  readonly onEvent?: (event: PipelineEvent) => void;
  /** How often running items are checked for progress, ms. Default 25. */
  readonly pollMs?: number;
}

/** What {@link runOrdersPipeline} resolves to. */
export interface PipelineResult {
  /** The execution every step ran under. */
  readonly executionId: string;
  readonly batch: OrderBatch;
  /** Enriched orders, in batch order (element `i` is lineage index `i`). */
  readonly enriched: readonly EnrichedOrder[];
  readonly report: Report;
}

/** A step failed for good (a final error, or its retries ran out): names the step, the item, the error and the dead letter. */
export class PipelineStepError extends WeftError {
  constructor(
    readonly step: PipelineStep, readonly index: number | undefined, readonly remoteCode: string,
    /** The queue whose dead letters hold the failed message. */
    readonly queue: string, message: string, cause: unknown,
  ) {
    super('SAMPLE_PIPELINE_STEP_FAILED',
      `step ${step}${index === undefined ? '' : ` #${index}`} failed with ${remoteCode}: ${message}. ` +
      `Its message is in the dead letters of queue ${queue}, with the reason: app.deadLetters.list('${queue}')`, { cause });
  }
}

/**
 * Runs one batch through the pipeline and resolves to its report.
 *
 * @example
 * ```ts
 * const request = Object.assign(new IngestRequest(), { batchId: 'b-42', orderCount: 12, seed: 7 });
 * const { report } = await runOrdersPipeline(app, request, { onEvent: (e) => console.log(e) });
 * ```
 */
export async function runOrdersPipeline(app: Weft, request: IngestRequest, options: RunPipelineOptions = {}): Promise<PipelineResult> {
  const emit = options.onEvent ?? (() => undefined);
  const watch = new ProgressWatch(emit, options.pollMs ?? 25);
  try {
    const base = { pipeline: PIPELINE, businessKey: request.batchId };

    const ingest = await app.submit(IngestOrders, request, { ...base, step: 'ingest' });
    const { executionId } = ingest;
    const lineage = { ...base, executionId, parentItemId: ingest.idempotencyKey };
    emit({ kind: 'dispatched', step: 'ingest', count: 1, deduplicated: ingest.deduplicated ? 1 : 0 });
    const batch = await watch.follow(ingest, 'ingest', undefined, (b) => ({ message: `${b.orders.length} orders`, worker: b.ingestedBy }));

    // Fan-out: one enrichment per order; submitMany gives item i the lineage index i.
    const handles = await app.submitMany(EnrichOrder, batch.orders, { ...lineage, step: 'enrich' });
    emit({ kind: 'dispatched', step: 'enrich', count: handles.length, deduplicated: handles.filter((h) => h.deduplicated).length });
    // Fan-in: the outputs, in lineage order.
    const enriched = await Promise.all(handles.map((h, i) => watch.follow(h, 'enrich', i,
      (o) => ({ message: `${o.orderId} ${money(o.totalCents, o.currency)}`, worker: o.enrichedBy }))));

    const reportRequest = Object.assign(new ReportRequest(), { batchId: request.batchId, orders: enriched });
    const aggregate = await app.submit(BuildReport, reportRequest, { ...lineage, step: 'report' });
    emit({ kind: 'dispatched', step: 'report', count: 1, deduplicated: aggregate.deduplicated ? 1 : 0 });
    const report = await watch.follow(aggregate, 'report', undefined, (r) => ({ message: `${r.orderCount} orders`, worker: r.reportedBy }));

    return { executionId, batch, enriched, report };
  } finally {
    watch.close();
  }
}

/** Polls the handles of running items, with one timer, and reports progress that changed. */
class ProgressWatch {
  private readonly items = new Map<TaskHandle<unknown>, { step: PipelineStep; index?: number; last?: string }>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly emit: (e: PipelineEvent) => void, private readonly pollMs: number) {}

  async follow<O>(handle: TaskHandle<O>, step: PipelineStep, index: number | undefined,
    describe: (output: O) => { message: string; worker?: WorkerRef }): Promise<O> {
    const item = { step, ...(index === undefined ? {} : { index }) };
    this.items.set(handle as TaskHandle<unknown>, item);
    this.timer ??= setInterval(() => this.poll(), this.pollMs);
    let output: O;
    try {
      output = await handle.result();
    } catch (e) {
      const { code, message } = e as { code?: unknown; message?: unknown };
      throw new PipelineStepError(step, index, typeof code === 'string' ? code : 'UNKNOWN', taskDefinitionOf(STEP_TASKS[step]).queue, String(message), e);
    } finally {
      this.poll(handle as TaskHandle<unknown>);
      this.items.delete(handle as TaskHandle<unknown>);
    }
    this.emit({ kind: 'completed', ...item, ...describe(output) });
    return output;
  }

  private poll(only?: TaskHandle<unknown>): void {
    for (const [handle, item] of only ? [[only, this.items.get(only)] as const] : this.items) {
      if (!item) continue;
      const progress = handle.status().progress;
      if (progress === undefined) continue;
      const text = JSON.stringify(progress);
      if (text === item.last) continue;
      item.last = text;
      const { percent, message } = (typeof progress === 'object' && progress !== null ? progress : {}) as { percent?: unknown; message?: unknown };
      this.emit({
        kind: 'progress', step: item.step, ...(item.index === undefined ? {} : { index: item.index }),
        ...(typeof percent === 'number' ? { percent } : {}),
        message: typeof message === 'string' ? message : text,
      });
    }
    if (this.items.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.items.clear();
  }
}
