/**
 * The order pipeline, as a flow: ingestion → enrichment fanned out per order → aggregation into a
 * report.
 *
 * @remarks
 * {@link ordersFlow} is the whole orchestration: orchestrators (`app.orchestrator()`, in any
 * process, any number of them) run it durably, dispatching every step through the replay-safe
 * dispatch layer under one execution, with deterministic idempotency keys from (flow `orders`,
 * step, execution, lineage index). The execution id comes from the business key, the batch id: a
 * batch started again, from any process, starts nothing new (`deduplicated`) and follows the
 * first run.
 *
 * Progress comes from the execution's events (`app.subscribe(executionId)`): the workers write
 * `step_started` / `step_completed` / `step_failed` for every item of a flow, with its lineage
 * index, `ctx.progress(percent, message)` writes `progress`, and the orchestrator writes the
 * flow's end. A subscriber gets every event from the first, so it may come late.
 */
import type { Weft } from '../core';
import { WeftError, type WorkflowEvent } from '../core';
import { flow, FlowFailedError, type FlowStepFailure } from '../core/workflow';
import type { IngestRequest, Report } from './messages';
import { BuildReport, EnrichOrder, IngestOrders } from './tasks';

/**
 * The order pipeline. Steps: `ingest` (one IngestRequest → an OrderBatch), `enrich` (one run per
 * element of `OrderBatch.orders`, lineage index = the order's position), `report` (one run whose
 * `ReportRequest.orders` holds every enriched order, in lineage order).
 */
export const ordersFlow = flow('orders')
  .step(IngestOrders, { name: 'ingest' })
  .forEach(EnrichOrder, { over: 'orders', name: 'enrich' })
  .collect(BuildReport, { into: 'orders', name: 'report' });

/** The pipeline's steps, in order. */
export type PipelineStep = 'ingest' | 'enrich' | 'report';

/** The steps that run once per element (their events' `index` is the element's position). */
const FAN_OUT_STEPS: ReadonlySet<string> = new Set(ordersFlow.stages.filter((s) => s.kind === 'forEach').map((s) => s.name));

/** `enrich #3` for an item of the fan-out, `ingest` for a single step (whose index is always 0). */
export function itemLabel(step: string | undefined, index: number | undefined): string {
  return `${step ?? 'flow'}${step !== undefined && FAN_OUT_STEPS.has(step) && index !== undefined ? ` #${index}` : ''}`;
}

/** Options of {@link runOrdersPipeline}. */
export interface RunPipelineOptions {
  /** Called for every event of the execution, in order, from the first. */
  readonly onEvent?: (event: WorkflowEvent) => void;
  /** Cancels the flow when it fires (running steps are aborted); the pipeline then rejects with `WEFT_FLOW_CANCELLED`. */
  readonly signal?: AbortSignal;
  /** Gives up waiting after this long (the flow goes on). Default: no limit. */
  readonly timeoutMs?: number;
}

/** What {@link runOrdersPipeline} resolves to. */
export interface PipelineResult {
  /** The flow's execution: from the batch id, so the same batch always has the same one. */
  readonly executionId: string;
  /** `true` when this batch had been started before: nothing new ran, this run followed the first one. */
  readonly deduplicated: boolean;
  readonly report: Report;
}

/**
 * A step failed for good (a final error, or its retries ran out) and with it the flow: names the
 * step, the item, the error and the dead letter (from the flow's `FlowFailedError.failure`).
 */
export class PipelineStepError extends WeftError {
  readonly step: string;
  /** The item's position in the fan-out; `undefined` for a single step. */
  readonly index: number | undefined;
  /** The failed task's error code. */
  readonly remoteCode: string;
  /** The queue whose dead letters hold the failed message. */
  readonly queue: string;
  /** The dead letter's idempotency key on that queue. */
  readonly idempotencyKey: string;
  /** The dead letter's id on that queue (what `app.deadLetters.inspect` and `replay` take), when known. */
  readonly deadLetterId: string | undefined;

  constructor(readonly executionId: string, failure: FlowStepFailure, cause: unknown) {
    const index = FAN_OUT_STEPS.has(failure.step) ? failure.index : undefined;
    const { queue, idempotencyKey, id } = failure.deadLetter;
    super('SAMPLE_PIPELINE_STEP_FAILED',
      `step ${itemLabel(failure.step, index)} failed with ${failure.code}: ${failure.message}. ` +
      `Its message is in the dead letters of queue ${queue} (idempotency key ${idempotencyKey}), with the reason: ` +
      (id ? `app.deadLetters.inspect('${queue}', '${id}')` : `app.deadLetters.list('${queue}')`), { cause });
    this.deadLetterId = id;
    this.step = failure.step;
    this.index = index;
    this.remoteCode = failure.code;
    this.queue = queue;
    this.idempotencyKey = idempotencyKey;
  }
}

/**
 * Runs one batch through the pipeline: starts {@link ordersFlow} with the batch id as its business
 * key, forwards its events to `onEvent`, and resolves to the report once the flow has ended and
 * its events are through. Needs an orchestrator and workers for the three steps somewhere (this
 * process or others).
 *
 * @throws PipelineStepError (`SAMPLE_PIPELINE_STEP_FAILED`) when a step failed for good;
 *   FlowCancelledError (`WEFT_FLOW_CANCELLED`) when the flow was cancelled (`options.signal`, or
 *   `app.flows.cancel` anywhere).
 *
 * @example
 * ```ts
 * const request = Object.assign(new IngestRequest(), { batchId: 'b-42', orderCount: 12, seed: 7 });
 * const { report } = await runOrdersPipeline(app, request, { onEvent: (e) => console.log(e.kind, e.step) });
 * ```
 */
export async function runOrdersPipeline(app: Weft, request: IngestRequest, options: RunPipelineOptions = {}): Promise<PipelineResult> {
  const run = await app.flows.start(ordersFlow, request, { businessKey: request.batchId });
  const { executionId } = run;
  const onEvent = options.onEvent ?? (() => undefined);

  // Follow the events from the first one; the subscription ends after the flow's terminal event,
  // which the orchestrator writes once the flow's state has ended: then the result is there too.
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  const stop = new AbortController();
  const cancel = (): void => void run.cancel(String(options.signal?.reason ?? 'cancelled')).catch(() => undefined);
  if (options.signal?.aborted) cancel();
  else options.signal?.addEventListener('abort', cancel, { once: true });
  try {
    const signal = deadline === undefined ? stop.signal : AbortSignal.any([stop.signal, AbortSignal.timeout(options.timeoutMs!)]);
    try {
      for await (const event of app.subscribe(executionId, { signal })) onEvent(event);
    } catch {
      // A broken event log must not fail the pipeline: the flow's state still says how it ended.
    }
    try {
      const report = await run.result({ pollMs: 50, ...(deadline === undefined ? {} : { timeoutMs: Math.max(1, deadline - Date.now()) }) });
      return { executionId, deduplicated: run.deduplicated, report };
    } catch (e) {
      if (e instanceof FlowFailedError) throw new PipelineStepError(executionId, e.failure, e);
      throw e;
    }
  } finally {
    options.signal?.removeEventListener('abort', cancel);
    stop.abort();
  }
}

