import { idempotencyKey } from '../dispatch/idempotency';
import type { DispatchLedger } from '../dispatch/ledger';
import { EXECUTION_STEP } from '../runtime/client';
import { newTraceparent, nextId } from '../runtime/ids';
import type { Transport } from '../runtime/transport';
import type { Schema } from '../schema/schema';
import { toFields } from '../tasks/wire';
import type { AnyFlow, FlowInput, FlowOutput } from './definition';
import { FlowCancelledError, FlowError, FlowErrorCode, FlowFailedError, type FlowStepFailure } from './errors';
import { cancelMessage, FLOWS_QUEUE, FlowField, START_STEP, startKeyOf } from './messages';
import { FlowRegistry } from './register';
import type { WorkflowState, WorkflowStatus, WorkflowStore } from './store';

/** Options of {@link Flows.start}. */
export interface FlowStartOptions {
  /**
   * The business identity of this run, e.g. a batch id. Starting the same flow with the same key
   * again (from any process) starts nothing new: the handle follows the first run. Omitted: every
   * start is a new run.
   */
  readonly businessKey?: string;
}

/** Where a flow execution stands. */
export interface FlowStatus {
  readonly status: WorkflowStatus | 'STARTING';
  /** The running (or last) step's name; absent while STARTING. */
  readonly step?: string;
  /** The current stage, from 0. */
  readonly stage?: number;
  /** Items of the current step with an outcome, of `size`. */
  readonly done?: number;
  readonly size?: number;
  /** Step items that failed so far. */
  readonly failures: readonly FlowStepFailure[];
}

/** A finished flow's output and the items it went on without (`continueOnError`). */
export interface FlowOutcome<O> {
  readonly output: O;
  readonly failures: readonly FlowStepFailure[];
}

/** What {@link Flows} needs; the app provides it. */
export interface FlowsDeps {
  readonly ledger: DispatchLedger;
  readonly transport: Transport;
  /** `undefined` when no plugin provides a workflow store: starting a flow then fails with `WEFT_FLOW_STORE_MISSING`. */
  readonly store: WorkflowStore | undefined;
  readonly schemas: { ensure(schema: Schema): Promise<unknown> };
  /** The flows queue. Default `weft.flows`. */
  readonly queue?: string;
  /**
   * Tells every worker that an execution is cancelled, so that its running steps' `ctx.signal`
   * fires and its queued steps do not run (`app.cancel`). Absent: only the orchestrators stop it.
   */
  readonly broadcast?: (executionId: string, reason: string) => Promise<unknown>;
}

/**
 * A started flow execution. Its state lives in the workflow store, so a handle works from any
 * process (`app.flows.handle(flow, executionId)`), for a duplicate start too.
 */
export class FlowHandle<O> {
  /** `true` when the start found the same run already started and sent nothing. */
  deduplicated = false;

  /** @internal */
  constructor(
    readonly executionId: string,
    private readonly flowDef: AnyFlow,
    private readonly store: WorkflowStore,
    private readonly cancelFn: (executionId: string, reason?: string) => Promise<void>,
  ) {}

  /** The flow's name. */
  get flow(): string {
    return this.flowDef.name;
  }

  /** Where the execution stands now (`STARTING` until an orchestrator has taken the start message). */
  async status(): Promise<FlowStatus> {
    const s = await this.store.get(this.executionId);
    if (!s) return { status: 'STARTING', failures: [] };
    return {
      status: s.status, step: this.flowDef.stages[s.stage]?.name, stage: s.stage, done: s.recorded, size: s.sizes[s.stage] ?? 0, failures: s.failures,
    };
  }

  /**
   * The output of the flow's last step, once the flow has ended.
   * @throws FlowFailedError (`WEFT_FLOW_FAILED`) naming the step, its error and its dead letter;
   *   FlowCancelledError (`WEFT_FLOW_CANCELLED`).
   */
  async result(options: { readonly pollMs?: number; readonly timeoutMs?: number } = {}): Promise<O> {
    return (await this.outcome(options)).output;
  }

  /** Like {@link result}, with the failed items the flow went on without (`continueOnError`). */
  async outcome(options: { readonly pollMs?: number; readonly timeoutMs?: number } = {}): Promise<FlowOutcome<O>> {
    const s = await this.settled(options.pollMs ?? 500, options.timeoutMs);
    if (s.status === 'CANCELLED') throw new FlowCancelledError(s.executionId, this.flow, s.cancelReason ?? '');
    if (s.status === 'FAILED') {
      const cause = s.failures.find((f) => !f.continued);
      if (cause) throw new FlowFailedError(s.executionId, this.flow, cause);
      throw new FlowError(FlowErrorCode.FAILED, `flow ${this.flow} (execution ${s.executionId}) failed: ${s.error?.code ?? ''}: ${s.error?.message ?? ''}`);
    }
    const last = this.flowDef.stages[this.flowDef.stages.length - 1]!;
    const [out] = await this.store.outputs(s.executionId, this.flowDef.stages.length - 1, 1);
    if (!out) throw new FlowError(FlowErrorCode.NOT_FOUND, `flow ${this.flow} (execution ${s.executionId}) succeeded but its output is gone (expired?)`);
    return { output: last.def.output.codec.decode(out.bytes) as O, failures: s.failures };
  }

  /** Asks the orchestrators to cancel this execution. */
  cancel(reason?: string): Promise<void> {
    return this.cancelFn(this.executionId, reason);
  }

  private async settled(maxPollMs: number, timeoutMs: number | undefined): Promise<WorkflowState> {
    const end = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    let wait = 10;
    for (;;) {
      const s = await this.store.get(this.executionId);
      if (s && s.status !== 'RUNNING') return s;
      if (Date.now() >= end) {
        throw new FlowError(FlowErrorCode.TIMEOUT, `flow ${this.flow} (execution ${this.executionId}) has not ended after ${timeoutMs} ms; ` +
          'is an orchestrator running (app.orchestrator()) and a worker for each step?');
      }
      await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(0, end - Date.now()))));
      wait = Math.min(maxPollMs, Math.ceil(wait * 1.5));
    }
  }
}

/**
 * The app's flow API (`app.flows`): register flows, start them, cancel them.
 *
 * @example
 * ```ts
 * app.flows.register(orders);
 * await app.orchestrator();                         // in any process, any number of them
 * const run = await app.flows.start(orders, request, { businessKey: 'batch-42' });
 * const report = await run.result();                // typed: the last step's output
 * ```
 */
export class Flows {
  /** The flows known to this app. */
  readonly registry = new FlowRegistry();
  readonly queue: string;

  /** @internal */
  constructor(private readonly deps: FlowsDeps) {
    this.queue = deps.queue ?? FLOWS_QUEUE;
  }

  /**
   * Registers a flow: checks every edge's schema compatibility (see docs/workflows.md).
   * @throws FlowError `WEFT_FLOW_EDGE_INCOMPATIBLE` naming the step and field of an edge that cannot be
   *   read; `WEFT_FLOW_INVALID`; `WEFT_FLOW_CONFLICT` for another flow of the same name.
   */
  register<F extends AnyFlow>(flow: F): F {
    this.registry.register(flow);
    return flow;
  }

  /**
   * Starts a run of `flow` (registering it if needed): validates and encodes the input, then
   * records and publishes a start message for the orchestrators through the dispatch ledger, under
   * a deterministic idempotency key. A duplicate start (same flow and business key) sends nothing
   * and returns a handle on the first run (`handle.deduplicated`).
   */
  async start<F extends AnyFlow>(flow: F, input: FlowInput<F>, options: FlowStartOptions = {}): Promise<FlowHandle<FlowOutput<F>>> {
    const store = this.store();
    this.register(flow);
    const def = flow.stages[0]!.def;
    const payload = def.input.codec.encode(input as never); // validates: throws before anything is sent
    await this.deps.schemas.ensure(def.input);
    const executionId = options.businessKey === undefined ? nextId()
      : idempotencyKey({ pipeline: flow.name, step: EXECUTION_STEP, businessKey: options.businessKey, lineageIndex: 0 });
    const startKey = startKeyOf(flow.name, executionId);
    const now = Date.now();
    const fields = {
      ...toFields({
        schemaId: def.input.id, type: def.input.fullName, payload, task: `flow:${flow.name}`, resolverId: 'default', strategy: 'registry',
        correlationId: executionId, executionId, idempotencyKey: startKey, stepId: START_STEP, retryAttempt: 0, deadlineMs: undefined,
        dispatchTsMs: now, parentItemId: '', traceparent: newTraceparent(), replyTo: '',
      }),
      [FlowField.OP]: 'start', [FlowField.FLOW]: flow.name,
    };
    const [outcome] = await this.deps.ledger.send(this.queue, [{
      key: { executionId, stepId: START_STEP, idempotencyKey: startKey }, correlationId: executionId, fields,
    }], now);
    const handle = new FlowHandle<FlowOutput<F>>(executionId, flow, store, (id, reason) => this.cancel(id, reason));
    handle.deduplicated = outcome?.sent === false;
    return handle;
  }

  /** A handle on an execution started elsewhere (by id), e.g. after the starter restarted. */
  handle<F extends AnyFlow>(flow: F, executionId: string): FlowHandle<FlowOutput<F>> {
    return new FlowHandle<FlowOutput<F>>(executionId, flow, this.store(), (id, reason) => this.cancel(id, reason));
  }

  /**
   * Cancels an execution: running steps are aborted on every machine (their `ctx.signal` fires)
   * and queued ones are not run, when the app has an event log; an orchestrator moves the execution
   * to CANCELLED, dispatches nothing more for it, and ignores the replies still to come. Cancelling
   * a finished execution does nothing.
   */
  async cancel(executionId: string, reason = ''): Promise<void> {
    // The orchestrators' message first: a worker's WEFT_CANCELLED reply that reached them before it
    // would cancel the flow too, and a failing broadcast must not keep the flow from being cancelled.
    await this.deps.transport.publish(this.queue, [cancelMessage(executionId, reason)]);
    await this.deps.broadcast?.(executionId, reason);
  }

  /** The stored state of an execution, if any. */
  state(executionId: string): Promise<WorkflowState | undefined> {
    return this.store().get(executionId);
  }

  private store(): WorkflowStore {
    if (!this.deps.store) {
      throw new FlowError(FlowErrorCode.STORE_MISSING,
        'no plugin provides the workflowStore port; the memory and redis plugins do (memoryPlugin(), redisPlugin())');
    }
    return this.deps.store;
  }
}
