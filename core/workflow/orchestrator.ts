import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { DispatchLedger } from '../dispatch/ledger';
import { codeOf, messageOf, RuntimeErrorCode } from '../runtime/errors';
import { parseReply, type Reply } from '../runtime/reply';
import type { Delivery, Transport } from '../runtime/transport';
import type { EncodedDispatchOptions, EncodedItem } from '../runtime/client';
import type { RuntimeTaskDefinition } from '../runtime/context';
import { fromFields } from '../tasks/wire';
import type { AnyFlow, FlowStage } from './definition';
import { FlowErrorCode, type FlowStepFailure } from './errors';
import { FLOWS_QUEUE, FlowField, ORCHESTRATOR_GROUP, START_STEP, stepKeyOf, text } from './messages';
import { repeatedElements, repeatedField } from './payload';
import { listField, type FlowRegistry } from './register';
import type { WorkflowChange, WorkflowRecord, WorkflowState, WorkflowStore } from './store';

/**
 * The kinds of workflow events the orchestrator emits (a subset of the event log's
 * `WorkflowEventKind`): the flow's end. Step events come from the workers that run the steps.
 */
export type FlowEventKind = 'workflow_completed' | 'workflow_failed' | 'workflow_cancelled';

/** One workflow event, as `emit` receives it (the shape of `Omit<WorkflowEvent, 'id' | 'executionId'>`). */
export interface FlowEvent {
  readonly kind: FlowEventKind;
  readonly step?: string;
  readonly index?: number;
  readonly message?: string;
  readonly error?: { readonly code: string; readonly message: string };
  readonly atMs: number;
}

/** Where workflow events go (the app wires it to the event log). Failures are logged, never thrown. */
export type FlowEventEmitter = (executionId: string, event: FlowEvent) => Promise<void>;

/** Options of an {@link Orchestrator} (`app.orchestrator(options)`). */
export interface OrchestratorOptions {
  /** The flows queue. Default `weft.flows`; starters and orchestrators must agree. */
  readonly queue?: string;
  /** Consumer group. Default `orchestrators`: every instance shares it. */
  readonly group?: string;
  /** This instance's consumer name. Default `<host>-<pid>-<random>`. */
  readonly consumer?: string;
  /** Messages read at once. Default 64. */
  readonly batch?: number;
  /** Longest blocking read, ms (also how long `close()` may wait for a read). Default 1000. */
  readonly blockMs?: number;
  /** A message held this long by an instance that stopped is taken over by another. Default 30 000 ms. */
  readonly visibilityTimeoutMs?: number;
  /**
   * Where workflow events go. `app.orchestrator()` defaults to the app's event log (the execution's
   * events stream, which `app.subscribe` reads) when a plugin provides one.
   */
  readonly emit?: FlowEventEmitter;
}

/** The reply a message of the flows queue is, if it is one (not a start or cancel message, and well formed). */
function replyOf(d: Delivery): Reply | undefined {
  if (text(d.fields, FlowField.OP) !== '') return undefined;
  return parseReply(d.fields) ?? undefined;
}

/** The state an execution's previous reply in a batch left (so the next one need not read it again). */
interface StateMemo {
  state?: WorkflowState;
}

/** What an orchestrator needs; `app.orchestrator()` provides it. */
export interface OrchestratorDeps {
  readonly transport: Transport;
  readonly ledger: DispatchLedger;
  readonly store: WorkflowStore;
  readonly flows: FlowRegistry;
  readonly logger: Logger;
  /** Records and publishes step items (the app client's internal `dispatchEncoded`). */
  readonly dispatch: (def: RuntimeTaskDefinition, items: readonly EncodedItem[], options: EncodedDispatchOptions) => Promise<unknown>;
}

/** Most items published in one ledger call. */
const DISPATCH_CHUNK = 500;
/** Most (execution, stage) key maps kept to locate replies. */
const KEY_CACHE_LIMIT = 256;
/** Most compare-and-set attempts on one state before the message is left for a redelivery. */
const CAS_ATTEMPTS = 50;
/** Most execution ids whose end this instance remembers having announced. */
const ANNOUNCED_LIMIT = 10_000;
/** How often, at most, an instance dispatches a stage again for late replies of an earlier one, ms. */
const ENSURE_INTERVAL_MS = 10_000;
/** A flow message whose handling failed this many times is dead-lettered instead of redone. */
const MAX_FLOW_DELIVERIES = 10;

/**
 * The failure that stops the flow at its current stage: a recorded failure of that stage's step
 * without `continueOnError`; with `any`, the first such failure of any stage.
 */
function fatalOf(state: WorkflowState, any = false): FlowStepFailure | undefined {
  return state.failures.find((x) => !x.continued && (any || x.stage === state.stage));
}

/**
 * Runs flows: consumes the flows queue, keeps each execution's state in the workflow store, and
 * dispatches each step through the dispatch ledger.
 *
 * @remarks
 * Any number of instances may run, in any processes: they share the consumer group, every state
 * change is a compare-and-set or an idempotent record, and every dispatch has a deterministic
 * idempotency key, so redoing a step of the algorithm is harmless. A message is acknowledged only
 * once the state and the dispatches it caused are durable; a message an instance held when it died
 * is taken over by another after `visibilityTimeoutMs`, which redoes what was not done.
 *
 * On each message: a start creates the state (idempotently) and dispatches the first step; a
 * step reply records the item's output (or failure) once, and when the stage is complete moves the
 * state to the next stage and dispatches it (a fan-out: one item per element; a fan-in: one item
 * holding every child output); a final failure fails the flow unless the step has
 * `continueOnError`; a cancel ends the flow CANCELLED. Replies for a finished or cancelled flow are
 * acknowledged and ignored.
 */
export class Orchestrator {
  readonly consumer: string;
  readonly queue: string;
  private readonly group: string;
  private readonly batch: number;
  private readonly blockMs: number;
  private readonly visibilityMs: number;
  private readonly inFlight = new Set<string>();
  private readonly keyCache = new Map<string, Map<string, number>>();
  /** Executions whose end this instance has announced (see {@link announce}). */
  private readonly announced = new Set<string>();
  /** When this instance last dispatched a stage again (see {@link shouldEnsure}), by execution and stage. */
  private readonly ensured = new Map<string, number>();
  private loop?: Promise<void>;
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private reclaiming?: Promise<void>;
  private closing?: Promise<void>;

  constructor(private readonly deps: OrchestratorDeps, private readonly options: OrchestratorOptions = {}) {
    this.queue = options.queue ?? FLOWS_QUEUE;
    this.group = options.group ?? ORCHESTRATOR_GROUP;
    this.consumer = options.consumer ?? `orch-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.batch = Math.max(1, options.batch ?? 64);
    this.blockMs = options.blockMs ?? 1000;
    this.visibilityMs = options.visibilityTimeoutMs ?? 30_000;
  }

  /** Starts consuming. */
  start(): this {
    if (this.loop) return this;
    this.loop = this.consumeLoop();
    this.timers.push(setInterval(() => void this.heartbeat(), Math.max(50, Math.floor(this.visibilityMs / 3))));
    this.timers.push(setInterval(() => {
      this.reclaiming ??= this.reclaim().finally(() => { this.reclaiming = undefined; });
    }, Math.max(50, Math.floor(this.visibilityMs / 2))));
    return this;
  }

  /** Stops reading, finishes the messages in hand, and resolves. What is left pending goes to another instance. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      this.stopping = true;
      await this.loop;
      await this.reclaiming;
      for (const t of this.timers) clearInterval(t);
      this.timers = [];
    })());
  }

  private async consumeLoop(): Promise<void> {
    let backoff = 50;
    while (!this.stopping) {
      let batch: Delivery[];
      try {
        batch = await this.deps.transport.consume(this.queue, { group: this.group, consumer: this.consumer, count: this.batch, blockMs: this.blockMs });
        backoff = 50;
      } catch (e) {
        if (this.stopping) break;
        this.deps.logger.warn({ err: e, queue: this.queue }, 'reading the flows queue failed; retrying');
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
        continue;
      }
      await this.handleBatch(batch);
    }
  }

  private async reclaim(): Promise<void> {
    if (this.stopping) return;
    try {
      const taken = await this.deps.transport.reclaim(this.queue, {
        group: this.group, consumer: this.consumer, minIdleMs: this.visibilityMs, count: this.batch,
      });
      const fresh = taken.filter((d) => !this.inFlight.has(d.id));
      if (fresh.length > 0) {
        this.deps.logger.info({ count: fresh.length }, 'took over flow messages of a stopped orchestrator');
        await this.handleBatch(fresh);
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'reclaiming flow messages failed');
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.inFlight.size === 0) return;
    await this.deps.transport.touch(this.queue, this.group, this.consumer, [...this.inFlight])
      .catch((err: unknown) => this.deps.logger.warn({ err }, 'heartbeat failed'));
  }

  /**
   * Handles a batch: messages of one execution in order, executions in parallel. The messages
   * handled are acked together at the end (one call); a message whose handling failed stays
   * pending and is redone later (handling is idempotent). Replies of one execution in a row reuse
   * the state the previous one left, so a fan-in costs one store call per reply.
   */
  private async handleBatch(batch: readonly Delivery[]): Promise<void> {
    const byExecution = new Map<string, Delivery[]>();
    for (const d of batch) {
      this.inFlight.add(d.id);
      const id = text(d.fields, FlowField.EXECUTION_ID);
      const list = byExecution.get(id);
      if (list) list.push(d);
      else byExecution.set(id, [d]);
    }
    const handled: string[] = [];
    await Promise.all([...byExecution.values()].map(async (list) => {
      const memo: StateMemo = {};
      for (let i = 0; i < list.length;) {
        // Replies in a row are recorded together (one store call); other messages one by one.
        const run: Delivery[] = [];
        const replies: Reply[] = [];
        for (let r: Reply | undefined; i < list.length && (r = replyOf(list[i]!)); i++) {
          run.push(list[i]!);
          replies.push(r);
        }
        if (run.length === 0) run.push(list[i++]!);
        try {
          if (replies.length > 0) await this.onReplies(replies, memo);
          else if (!(await this.handle(run[0]!, memo))) continue;
          for (const d of run) handled.push(d.id);
        } catch (err) {
          memo.state = undefined;
          await this.onFailure(run, err);
        }
      }
    }));
    try {
      if (handled.length > 0) await this.deps.transport.ack(this.queue, this.group, handled);
    } catch (err) {
      // Not acked: redelivered later and handled again, which changes nothing.
      this.deps.logger.warn({ err, count: handled.length }, 'acking flow messages failed; they will be redelivered');
    } finally {
      for (const d of batch) this.inFlight.delete(d.id);
    }
  }

  /**
   * After a failed handling: the messages stay pending, and this instance's reclaim, or another's,
   * redoes them later; one that failed {@link MAX_FLOW_DELIVERIES} times is dead-lettered with the
   * error instead, so that a message no instance can handle (a flow none has registered, a state
   * that cannot be read) does not come back for ever.
   */
  private async onFailure(run: readonly Delivery[], err: unknown): Promise<void> {
    const spent = run.filter((d) => d.deliveryCount >= MAX_FLOW_DELIVERIES);
    this.deps.logger.warn({ err, messageIds: run.map((d) => d.id), deadLettered: spent.length },
      spent.length ? 'handling flow messages failed too often; dead-lettered' : 'handling flow messages failed; they will be redelivered');
    for (const d of spent) {
      await this.deps.transport.deadLetter(this.queue, this.group, d, {
        code: codeOf(err, FlowErrorCode.MESSAGE_FAILED),
        message: `handling failed ${d.deliveryCount} times, the last with: ${messageOf(err)}`,
      }).catch((e: unknown) => this.deps.logger.warn({ err: e, messageId: d.id }, 'dead-lettering a flow message failed'));
    }
  }

  /** Handles one message; `true` when it is to be acked, `false` when it was acked (or dead-lettered) already. */
  private async handle(d: Delivery, memo: StateMemo): Promise<boolean> {
    const op = text(d.fields, FlowField.OP);
    if (op === 'start') {
      memo.state = undefined;
      await this.onStart(d);
      return false;
    }
    if (op === 'cancel') {
      memo.state = undefined;
      await this.onCancel(d);
      return true;
    }
    const reply = parseReply(d.fields);
    if (!reply) {
      this.deps.logger.warn({ messageId: d.id }, 'not a flow message; dead-lettered');
      await this.deps.transport.deadLetter(this.queue, this.group, d, {
        code: FlowErrorCode.MESSAGE_INVALID, message: 'the flows queue carries start, cancel and reply messages only',
      });
      return false;
    }
    await this.onReplies([reply], memo);
    return true;
  }

  private async onStart(d: Delivery): Promise<void> {
    const name = text(d.fields, FlowField.FLOW);
    const f = this.deps.flows.get(name);
    let env;
    try {
      env = fromFields(d.fields);
    } catch (e) {
      await this.deps.transport.deadLetter(this.queue, this.group, d, { code: codeOf(e, 'WEFT_ENVELOPE_INVALID'), message: messageOf(e) });
      return;
    }
    if (!f) {
      this.deps.logger.error({ flow: name, executionId: env.executionId }, 'start of a flow this orchestrator does not know; dead-lettered');
      await this.deps.transport.deadLetter(this.queue, this.group, d, {
        code: FlowErrorCode.NOT_REGISTERED, message: `flow ${name} is not registered in this orchestrator: register it with app.flows.register(flow) before app.orchestrator()`,
      });
      return;
    }
    const payload = Buffer.from(env.payload);
    const { state } = await this.deps.store.create({
      executionId: env.executionId, flow: name, input: { bytes: payload, schemaId: env.schemaId }, startKey: env.idempotencyKey, nowMs: Date.now(),
    });
    await this.drive(f, state, true);
    await this.deps.ledger.complete(this.queue, this.group, [{
      deliveryId: d.id, key: { executionId: env.executionId, stepId: START_STEP, idempotencyKey: env.idempotencyKey },
    }], Date.now());
  }

  private async onCancel(d: Delivery): Promise<void> {
    const id = text(d.fields, FlowField.EXECUTION_ID);
    if (!id) return;
    const reason = text(d.fields, FlowField.REASON);
    let state = await this.deps.store.get(id);
    if (!state) {
      // The cancel came before the start (another instance holds it, or its handling failed):
      // leave a CANCELLED state, so that the start finds it and dispatches nothing.
      state = (await this.deps.store.create({
        executionId: id, flow: '', input: { bytes: Buffer.alloc(0), schemaId: '' }, startKey: '', nowMs: Date.now(),
      })).state;
    }
    await this.cancelState(state, reason);
  }

  /** Ends the flow CANCELLED (unless it has ended already), and announces its end. */
  private cancelState(start: WorkflowState, reason: string): Promise<void> {
    return this.finish(start, { status: 'CANCELLED', cancelReason: reason });
  }

  /**
   * Records replies of one execution (in one store call) and moves it on; `memo` carries its state
   * from one call to the next. A reply of an earlier stage may be the redelivery of one whose stage
   * change was not followed by its dispatch (the instance died in between): the current stage is
   * then dispatched again, which the ledger turns into a no-op for what was sent.
   */
  private async onReplies(all: readonly Reply[], memo: StateMemo): Promise<void> {
    const replies = all.filter((r) => r.kind !== 'progress');
    const first = replies[0];
    if (!first) return;
    const state = memo.state?.executionId === first.executionId ? memo.state : await this.deps.store.get(first.executionId);
    memo.state = undefined;
    if (!state) return;
    if (state.status !== 'RUNNING') return this.announce(state);
    // A step ended WEFT_CANCELLED: the execution was cancelled on the workers (`app.cancel`), so the
    // flow is cancelled, not failed.
    const cancelled = replies.find((r) => r.kind === 'error' && r.code === RuntimeErrorCode.CANCELLED);
    if (cancelled && cancelled.kind === 'error') return this.cancelState(state, cancelled.message);
    const f = this.deps.flows.get(state.flow);
    if (!f) {
      this.deps.logger.error({ flow: state.flow, executionId: state.executionId }, 'reply for a flow this orchestrator does not know; left for another');
      throw new Error(`flow ${state.flow} is not registered here`);
    }
    const stage = f.stages[state.stage]!;
    const entries: WorkflowRecord[] = [];
    const failures: (FlowStepFailure | undefined)[] = [];
    let earliest = state.stage;
    const nowMs = Date.now();
    for (const reply of replies) {
      const at = this.locate(f, state, reply.idempotencyKey);
      if (!at) {
        this.deps.logger.debug({ executionId: state.executionId, key: reply.idempotencyKey }, 'reply of no item of this execution; ignored');
        continue;
      }
      earliest = Math.min(earliest, at.stage);
      if (at.stage !== state.stage) continue;
      if (reply.kind === 'result') {
        entries.push({ stage: at.stage, index: at.index, output: { bytes: reply.payload, schemaId: reply.schemaId }, nowMs });
        failures.push(undefined);
      } else {
        const failure: FlowStepFailure = {
          step: stage.name, stage: at.stage, index: at.index, code: reply.code, message: reply.message,
          deadLetter: { queue: stage.def.queue, ...(reply.deadLetterId ? { id: reply.deadLetterId } : {}), idempotencyKey: reply.idempotencyKey },
          continued: stage.continueOnError,
        };
        entries.push({ stage: at.stage, index: at.index, failure, nowMs });
        failures.push(failure);
      }
    }
    let current: WorkflowState = state;
    if (entries.length > 0) {
      const res = await this.deps.store.recordMany(state.executionId, entries);
      if (!res.state) return;
      current = res.state;
      // Step events (started, progress, completed, failed) are the workers': steps go out with `events`.
      // This batch's fatal failure first (the state lists at most WORKFLOW_FAILURES_LIMIT failures),
      // then one an earlier handling recorded.
      const fatal = stage.continueOnError ? undefined : failures.find((x, k) => x && res.kinds[k] !== 'stale');
      if (fatal) return this.fail(current, fatal.code, failureText(fatal), fatal);
    }
    // A failure recorded by an instance that stopped before failing the flow.
    const recordedFatal = fatalOf(current);
    if (recordedFatal) return this.fail(current, recordedFatal.code, failureText(recordedFatal), recordedFatal);
    const ensure = earliest < current.stage;
    if (!ensure && current.status === 'RUNNING' && current.recorded < (current.sizes[current.stage] ?? 0)) {
      // The stage is still incomplete: nothing to drive, and the next replies may start from this state.
      memo.state = current;
      return;
    }
    await this.drive(f, current, ensure);
  }

  /**
   * Moves the execution on as far as its recorded outcomes allow: while the current stage is
   * complete, compute the next stage's items, move the state there (CAS), and dispatch them; end the
   * flow after the last stage. With `ensure`, the current (incomplete) stage is dispatched again.
   */
  private async drive(f: AnyFlow, start: WorkflowState, ensure: boolean): Promise<void> {
    let state: WorkflowState | undefined = start;
    for (let attempt = 0; state && state.status === 'RUNNING'; attempt++) {
      if (attempt > CAS_ATTEMPTS) throw new Error(`execution ${state.executionId}: too many concurrent changes; retrying later`);
      // A stage never moves on past a failure of a step without continueOnError, whoever recorded it.
      const fatal = fatalOf(state);
      if (fatal) return this.fail(state, fatal.code, failureText(fatal), fatal);
      const size = state.sizes[state.stage] ?? 0;
      if (state.recorded < size) {
        if (ensure && this.shouldEnsure(state)) await this.dispatchStage(f, state, await this.itemsOf(f, state, state.stage));
        return;
      }
      const next = state.stage + 1;
      if (next >= f.stages.length) {
        const res = await this.deps.store.update(state.executionId, state.version, { status: 'SUCCEEDED', nowMs: Date.now() });
        if (res.ok) return this.announce(res.state);
        state = res.current;
        continue;
      }
      let items: EncodedItem[];
      try {
        items = await this.itemsOf(f, state, next);
      } catch (e) {
        const step = f.stages[next]!.name;
        await this.fail(state, codeOf(e, 'WEFT_FLOW_FAILED'), `could not build the input of step '${step}': ${messageOf(e)}`);
        return;
      }
      const res = await this.deps.store.update(state.executionId, state.version, { stage: next, size: items.length, nowMs: Date.now() });
      if (!res.ok) {
        state = res.current;
        continue;
      }
      state = res.state;
      await this.dispatchStage(f, state, items);
      ensure = false;
    }
  }

  /** The items of stage `stage`, from the flow's input or the stored outputs of the stage before. */
  private async itemsOf(f: AnyFlow, state: WorkflowState, stage: number): Promise<EncodedItem[]> {
    if (stage === 0) return [{ payload: state.input.bytes, lineageIndex: 0 }];
    const st = f.stages[stage]!;
    const store = this.deps.store;
    if (st.kind === 'collect') {
      const outs = await store.outputs(state.executionId, stage - 1, state.sizes[stage - 1] ?? 0);
      const field = listField(st.def.input, st.into!, `collect step '${st.name}'`);
      return [{ payload: repeatedField(field.number, outs.filter((o) => o !== undefined).map((o) => o.bytes)), lineageIndex: 0 }];
    }
    const [prev] = await store.outputs(state.executionId, stage - 1, 1);
    if (!prev) throw new Error(`step '${f.stages[stage - 1]!.name}' has no recorded output`);
    if (st.kind === 'step') return [{ payload: prev.bytes, lineageIndex: 0 }];
    const field = listField(f.stages[stage - 1]!.def.output, st.over!, `forEach step '${st.name}'`);
    return repeatedElements(prev.bytes, field.number).map((payload, i) => ({ payload, lineageIndex: i }));
  }

  /** Dispatches a stage's items through the ledger (a redone dispatch publishes nothing). */
  private async dispatchStage(f: AnyFlow, state: WorkflowState, items: readonly EncodedItem[]): Promise<void> {
    const st: FlowStage = f.stages[state.stage]!;
    const parentStage = st.kind === 'collect' ? state.stage - 2 : state.stage - 1;
    const parentItemId = parentStage < 0 ? state.startKey : stepKeyOf(f.name, f.stages[parentStage]!.name, state.executionId, 0);
    const options: EncodedDispatchOptions = {
      executionId: state.executionId, pipeline: f.name, step: st.name, businessKey: state.executionId, parentItemId,
      replyTo: this.queue, correlationId: state.executionId, events: true,
      ...(st.timeoutMs === undefined ? {} : { deadlineMs: Date.now() + st.timeoutMs }),
    };
    for (let i = 0; i < items.length; i += DISPATCH_CHUNK) {
      if (i > 0) {
        // A long fan-out: stop publishing once the flow was cancelled or ended meanwhile.
        const now = await this.deps.store.get(state.executionId);
        if (!now || now.status !== 'RUNNING' || now.stage !== state.stage) return;
      }
      await this.deps.dispatch(st.def as unknown as RuntimeTaskDefinition, items.slice(i, i + DISPATCH_CHUNK), options);
    }
  }

  /**
   * Whether to dispatch the current, incomplete stage again for a late reply of an earlier stage
   * (its first dispatch may have been cut short by a crash). At most once per stage per
   * {@link ENSURE_INTERVAL_MS} in this instance: redoing a large fan-out for every late duplicate
   * would only cost ledger calls that publish nothing.
   */
  private shouldEnsure(state: WorkflowState): boolean {
    const key = `${state.executionId}\u0000${state.stage}`;
    const now = Date.now();
    const last = this.ensured.get(key);
    if (last !== undefined && now - last < ENSURE_INTERVAL_MS) return false;
    this.ensured.delete(key);
    if (this.ensured.size >= KEY_CACHE_LIMIT) this.ensured.delete(this.ensured.keys().next().value!);
    this.ensured.set(key, now);
    return true;
  }

  /** Ends the flow FAILED (unless it has ended already), and announces its end. */
  private fail(start: WorkflowState, code: string, message: string, failure?: FlowStepFailure): Promise<void> {
    return this.finish(start, { status: 'FAILED', error: { code, message } }, failure);
  }

  /**
   * Moves a RUNNING execution to a terminal status (compare-and-set, reloading on a conflict) and
   * announces its end; an execution that has ended already is only announced.
   */
  private async finish(start: WorkflowState, change: Omit<WorkflowChange, 'nowMs'>, failure?: FlowStepFailure): Promise<void> {
    let state: WorkflowState | undefined = start;
    for (let i = 0; state && state.status === 'RUNNING' && i < CAS_ATTEMPTS; i++) {
      const res = await this.deps.store.update(state.executionId, state.version, { ...change, nowMs: Date.now() });
      if (res.ok) return this.announce(res.state, failure);
      state = res.current;
    }
    if (state && state.status !== 'RUNNING') await this.announce(state);
  }

  /**
   * Writes the end event of a finished execution (`workflow_completed`, `workflow_failed` or
   * `workflow_cancelled`), once per execution in this instance. A failing write throws, so the
   * message that ended the flow stays pending and its redelivery writes the event again: a crash
   * between the end and its event does not leave subscribers waiting for ever (they may see the
   * event twice).
   */
  private async announce(state: WorkflowState, failure?: FlowStepFailure): Promise<void> {
    if (state.status === 'RUNNING' || this.announced.has(state.executionId)) return;
    const atMs = Date.now();
    const failed = failure ?? fatalOf(state, true);
    const event: FlowEvent = state.status === 'SUCCEEDED' ? { kind: 'workflow_completed', atMs }
      : state.status === 'CANCELLED' ? { kind: 'workflow_cancelled', ...(state.cancelReason ? { message: state.cancelReason } : {}), atMs }
        : {
          kind: 'workflow_failed', ...(failed ? { step: failed.step, index: failed.index } : {}),
          error: state.error ?? { code: failed?.code ?? 'WEFT_FLOW_FAILED', message: failed?.message ?? '' }, atMs,
        };
    await this.options.emit?.(state.executionId, event);
    if (this.announced.size >= ANNOUNCED_LIMIT) this.announced.delete(this.announced.values().next().value!);
    this.announced.add(state.executionId);
  }

  /** The stage and index of the item with this idempotency key (current stage first), if any. */
  private locate(f: AnyFlow, state: WorkflowState, key: string): { stage: number; index: number } | undefined {
    for (let stage = Math.min(state.stage, f.stages.length - 1); stage >= 0; stage--) {
      const cacheKey = `${state.executionId}\u0000${stage}`;
      let keys = this.keyCache.get(cacheKey);
      if (!keys) {
        keys = new Map();
        const n = state.sizes[stage] ?? 0;
        for (let i = 0; i < n; i++) keys.set(stepKeyOf(f.name, f.stages[stage]!.name, state.executionId, i), i);
        if (this.keyCache.size >= KEY_CACHE_LIMIT) this.keyCache.delete(this.keyCache.keys().next().value!);
        this.keyCache.set(cacheKey, keys);
      }
      const index = keys.get(key);
      if (index !== undefined) return { stage, index };
    }
    return undefined;
  }


}

/** The flow error message for a failed step item. */
export function failureText(f: FlowStepFailure): string {
  return `step '${f.step}'${f.index > 0 ? ` item ${f.index}` : ''} failed: ${f.code}: ${f.message} ` +
    `(dead letter ${f.deadLetter.id ? `${f.deadLetter.id} ` : ''}on queue '${f.deadLetter.queue}', idempotency key ${f.deadLetter.idempotencyKey})`;
}
