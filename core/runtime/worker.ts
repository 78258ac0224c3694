import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { WeftError } from '../errors';
import type { Schema } from '../schema/schema';
import { fromFields, TaskEnvelope } from '../tasks/wire';
import type { DispatchLedger, LedgerAck, LedgerView } from '../dispatch/ledger';
import type { DispatchKey } from '../dispatch/key';
import type { DispatchFailure } from '../dispatch/store';
import { DispatchState } from '../dispatch/state';
import { nextAttemptDecision, resolveRetryPolicy, type RetryPolicy } from '../dispatch/retry';
import { DispatchErrorCode } from '../dispatch/errors';
import type { ChildHandle, ChildSubmitOptions, ChildSubmitter, Runnable, RuntimeTaskDefinition, TaskContext, TaskLookup } from './context';
import type { TaskClass, TaskInput, TaskOutput } from '../../decorators/types';
import { childDeadline } from '../dispatch/deadline';
import { childTraceparent } from './ids';
import { CancelledError, codeOf, messageOf, RuntimeErrorCode } from './errors';
import { cancellationOf, emitStepEvent, progressReport, type WorkflowEventSink } from '../events/task-events';
import type { NewWorkflowEvent } from '../events/workflow-events';
import type { Cancellation } from '../events/cancellation';
import { errorReply, progressReply, resultReply } from './reply';
import { DEFAULT_WORKER_GROUP, type Delivery, type Outgoing, type Transport } from './transport';

/** What a worker needs; the app bootstrap provides it. */
export interface WorkerDeps {
  readonly transport: Transport;
  /** Schema registry: `resolve` verifies unknown ids, `ensure` registers output schemas. */
  readonly schemas: { resolve(id: string): Promise<unknown>; ensure(schema: Schema): Promise<unknown> };
  readonly tasks: TaskLookup;
  /** Creates a task instance with its constructor dependencies (from the app's DI container). */
  readonly instantiate: (def: RuntimeTaskDefinition) => Runnable;
  readonly logger: Logger;
  /** Durable dispatch: records, dedupe, retries, dead letters. */
  readonly ledger: DispatchLedger;
  /** Dispatches child tasks for `ctx.submit` (the app's client). */
  readonly submit?: ChildSubmitter;
  /** Crash recovery the worker runs while it runs (a `Reconciler`), if any. */
  readonly reconciler?: { start(): void; close(): Promise<void> };
  /**
   * Appends workflow events (the step lifecycle and progress of messages with `events` = `1`) to
   * an execution's event stream. Must not reject: the app's wiring logs failures instead.
   */
  readonly emit?: WorkflowEventSink;
  /**
   * Cancelled executions (the app's `CancellationFeed`): their running tasks' `ctx.signal` fires,
   * and their deliveries that have not started end as final failures with `WEFT_CANCELLED`.
   */
  readonly cancellations?: {
    get(executionId: string): Cancellation | undefined;
    onCancel(listener: (c: Cancellation) => void): () => void;
  };
}

/** Worker options. Every option has a default that suits a production queue. */
export interface WorkerOptions {
  /** Queues to consume. */
  readonly queues: readonly string[];
  /** Consumer group. Default `weft`: all workers of a queue share it. */
  readonly group?: string;
  /** This worker's consumer name. Default `<host>-<pid>-<random>`. */
  readonly consumer?: string;
  /** Most tasks run at once. Default 32. */
  readonly concurrency?: number;
  /** Longest blocking read, ms; also the longest `close()` waits for a read to return. Default 1000. */
  readonly blockMs?: number;
  /** A delivery not touched for this long is taken over by another worker. Default 30 000 ms. */
  readonly visibilityTimeoutMs?: number;
  /**
   * Retry policy of tasks that do not set `retries` in `@Task` (which sets `maxAttempts` to
   * `retries + 1`). Default {@link DEFAULT_RETRY_POLICY}: 3 attempts, 200 ms doubling up to 30 s,
   * full jitter.
   */
  readonly retry?: Partial<RetryPolicy>;
  /** How often the worker publishes retries that have come due, ms. Default 200. */
  readonly retryPollMs?: number;
}

/** A delivery with its envelope read and its dispatch record looked up. */
interface Prepared {
  readonly delivery: Delivery;
  readonly env?: TaskEnvelope;
  /** Why the envelope could not be read. */
  readonly invalid?: unknown;
  readonly key?: DispatchKey;
  /** The record as it stood when the delivery arrived; `undefined` when there is none. */
  readonly view?: LedgerView;
}

/** The dispatch record key of an envelope, when it carries one. */
export function dispatchKeyOf(env: TaskEnvelope): DispatchKey | undefined {
  if (!env.idempotencyKey || !env.executionId) return undefined;
  const at = env.task.lastIndexOf('@');
  return { executionId: env.executionId, stepId: env.stepId || (at > 0 ? env.task.slice(0, at) : env.task), idempotencyKey: env.idempotencyKey };
}

interface Slot {
  readonly queue: string;
  readonly id: string;
  /** Its key in the in-flight map. */
  readonly key: string;
  /** The dispatch record of the delivery, if it has one: kept fresh by the heartbeat. */
  readonly record?: DispatchKey;
  /** Created on first use (a task that reads `ctx.signal`, or a dispatch with a deadline). */
  abort?: AbortController;
}

const abortOf = (slot: Slot): AbortController => (slot.abort ??= new AbortController());

/** A running task's {@link TaskContext}; the logger and the AbortSignal are made on first use. */
class RunContext implements TaskContext {
  private childLogger?: Logger;
  readonly attempt: number;
  readonly correlationId: string;
  readonly executionId: string;
  readonly deadlineMs?: number;

  constructor(
    private readonly env: TaskEnvelope,
    private readonly def: RuntimeTaskDefinition,
    private readonly delivery: Delivery,
    private readonly slot: Slot,
    private readonly transport: Transport,
    private readonly parent: Logger,
    attempt: number,
    private readonly submitter: ChildSubmitter | undefined,
    private readonly emit: WorkflowEventSink | undefined,
  ) {
    this.attempt = attempt;
    this.correlationId = env.correlationId;
    this.executionId = env.executionId;
    this.deadlineMs = env.deadlineMs;
  }

  get logger(): Logger {
    return (this.childLogger ??= this.parent.child({
      task: this.def.name, correlationId: this.env.correlationId, executionId: this.env.executionId, messageId: this.delivery.id,
    }));
  }

  get signal(): AbortSignal {
    return abortOf(this.slot).signal;
  }

  /** The item's deterministic idempotency key: key external effects by it to make them effectively-once. */
  get idempotencyKey(): string {
    return this.env.idempotencyKey;
  }

  async submit<C extends TaskClass>(task: C, input: TaskInput<C>, options: ChildSubmitOptions = {}): Promise<ChildHandle<TaskOutput<C>>> {
    if (!this.submitter) throw new WeftError('WEFT_CHILD_SUBMIT_UNAVAILABLE', 'this worker was built without a client; start it with app.worker()');
    const env = this.env;
    const deadlineMs = childDeadline(env.deadlineMs, options.deadlineMs);
    return this.submitter(task, input, {
      businessKey: options.businessKey ?? env.idempotencyKey,
      pipeline: env.stepId || this.def.name,
      ...(options.step === undefined ? {} : { step: options.step }),
      lineageIndex: options.lineageIndex ?? 0,
      executionId: env.executionId, correlationId: env.correlationId, parentItemId: env.idempotencyKey,
      traceparent: childTraceparent(env.traceparent),
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
      ...(options.awaitResult === undefined ? {} : { awaitResult: options.awaitResult }),
    }) as Promise<ChildHandle<TaskOutput<C>>>;
  }

  /**
   * Sends a progress reply to `reply_to` (for `handle.status()`) and, for messages with `events` =
   * `1` only, appends a `progress` event to the execution's event stream: a plain task's progress
   * costs no event write (and no event stream). An arrow property, so that `const { progress } = ctx`
   * works too.
   */
  readonly progress = async (value: unknown, message?: string): Promise<void> => {
    const { reply, event } = progressReport(value, message); // WEFT_PROGRESS_INVALID
    const env = this.env;
    await Promise.all([
      env.replyTo ? this.transport.publish(env.replyTo, [progressReply(env.executionId, env.idempotencyKey, reply)]) : undefined,
      env.events ? emitStepEvent(this.emit, env, event) : undefined,
    ]);
  };
}

/**
 * Consumes task messages, runs them, and acks them, with a concurrency limit.
 *
 * @remarks
 * Every delivery ends acked, with a result reply, or dead-lettered with its reason: an invalid
 * envelope, an unknown task or resolver, an unknown or corrupt schema, a payload that does not
 * decode or validate, a passed deadline, a failing task. The worker never stops on bad input.
 * Work in flight is touched every third of the visibility timeout so no other worker steals a
 * long task; deliveries of crashed workers are reclaimed once idle past the timeout. Acks and
 * result replies are batched into one transport call per queue per event-loop turn.
 *
 * @example
 * ```ts
 * const worker = app.worker({ tasks: [Extract], concurrency: 32 });
 * await worker.start();
 * // ...
 * await worker.close(); // stops fetching, finishes and acks what is in flight
 * ```
 */
export class Worker {
  readonly consumer: string;
  private readonly group: string;
  private readonly concurrency: number;
  private readonly blockMs: number;
  private readonly visibilityMs: number;
  private readonly inFlight = new Map<string, Slot>();
  private readonly acks = new Map<string, LedgerAck[]>();
  private readonly policy: RetryPolicy;
  private readonly policies = new Map<string, RetryPolicy>();
  private readonly ensuredOutputs = new Set<string>();
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  private stopping = false;
  private loops: Promise<void>[] = [];
  private timers: NodeJS.Timeout[] = [];
  /** The reclaim in progress, if any: `close()` waits for it, since it may hand over deliveries. */
  private reclaiming?: Promise<void>;
  private closing?: Promise<void>;
  /** Slots promised to reads in progress (their results will need them). */
  private reserved = 0;
  /** Deliveries received while every slot was taken (a reclaim raced a read): run as slots free up. */
  private readonly waiting: { queue: string; prep: Prepared }[] = [];
  private slotWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private processed = 0;
  private maxRead = 1;
  /** Stops listening for cancellations (set while started). */
  private stopCancellations?: () => void;

  constructor(private readonly deps: WorkerDeps, private readonly options: WorkerOptions) {
    if (options.queues.length === 0) throw new WeftError('WEFT_WORKER_NO_QUEUES', 'a worker needs at least one queue: give it tasks or queues');
    this.group = options.group ?? DEFAULT_WORKER_GROUP;
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.concurrency = Math.max(1, options.concurrency ?? 32);
    this.blockMs = options.blockMs ?? 1000;
    this.visibilityMs = options.visibilityTimeoutMs ?? 30_000;
    this.policy = resolveRetryPolicy(options.retry);
  }

  /** Tasks finished (acked or dead-lettered) since start. */
  get completed(): number {
    return this.processed;
  }

  /** Starts consuming. */
  start(): this {
    if (this.loops.length) return this;
    // Two read loops per queue once concurrency allows: one read is on the wire while the other's
    // batch runs, so neither the worker nor Redis waits for the other.
    const lanes = this.concurrency >= 16 ? 2 : 1;
    // A lane blocked on an empty queue holds its reservation for up to blockMs: with one share of
    // the slots per lane, the other queues' lanes can always read meanwhile.
    this.maxRead = Math.max(1, Math.ceil(this.concurrency / (lanes * this.options.queues.length)));
    this.loops = this.options.queues.flatMap((q) => Array.from({ length: lanes }, () => this.consumeLoop(q)));
    const beat = Math.max(50, Math.floor(this.visibilityMs / 3));
    this.timers.push(setInterval(() => void this.heartbeat(), beat));
    this.timers.push(setInterval(() => {
      this.reclaiming ??= this.reclaim().finally(() => { this.reclaiming = undefined; });
    }, Math.max(50, Math.floor(this.visibilityMs / 2))));
    this.timers.push(setInterval(() => void this.redeliver(), Math.max(10, this.options.retryPollMs ?? 200)));
    this.deps.reconciler?.start();
    this.stopCancellations = this.deps.cancellations?.onCancel((c) => this.abortExecution(c));
    return this;
  }

  /** Fires the AbortSignal of this worker's running tasks of a cancelled execution. */
  private abortExecution(c: Cancellation): void {
    for (const s of this.inFlight.values()) {
      if (s.record?.executionId === c.executionId) abortOf(s).abort(new CancelledError(c.executionId, c.reason));
    }
  }

  /** Appends a step event of a message that asked for them (`events` = `1`). */
  private stepEvent(env: TaskEnvelope, event: Omit<NewWorkflowEvent, 'executionId' | 'step' | 'index'>): Promise<void> | undefined {
    return emitStepEvent(this.deps.emit, env, event);
  }

  /**
   * Stops fetching, waits for the tasks in flight to finish, acks them, and resolves. Nothing is
   * lost: a task that cannot finish stays pending in the transport and is reclaimed by another worker.
   */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    for (const w of this.slotWaiters.splice(0)) w();
    await Promise.all(this.loops);
    await this.reclaiming; // what it took over is dispatched, and finished below
    while (this.inFlight.size > 0 || this.waiting.length > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
    await this.flushAcks();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.redelivering;
    await this.deps.reconciler?.close();
    this.stopCancellations?.();
    this.stopCancellations = undefined;
  }

  /** Slots neither running a task, holding a waiting delivery, nor promised to a read in progress. */
  private free(): number {
    return this.concurrency - this.inFlight.size - this.waiting.length - this.reserved;
  }

  private async consumeLoop(queue: string): Promise<void> {
    let backoff = 50;
    while (!this.stopping) {
      if (this.free() <= 0) {
        await new Promise<void>((r) => this.slotWaiters.push(r));
        // Let every task that finishes in this turn free its slot, so one read fetches a batch
        // rather than one entry per freed slot.
        await new Promise<void>((r) => setImmediate(r));
        continue;
      }
      const count = Math.min(this.free(), this.maxRead);
      this.reserved += count;
      let batch: Delivery[];
      try {
        batch = await this.deps.transport.consume(queue, {
          group: this.group, consumer: this.consumer, count, blockMs: this.blockMs,
        });
        backoff = 50;
      } catch (e) {
        this.reserved -= count;
        if (this.stopping) break;
        this.deps.logger.warn({ err: e, queue }, 'consume failed; retrying');
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
        continue;
      }
      let prepared: Prepared[];
      try {
        prepared = await this.prepare(batch);
      } catch (e) {
        // The records could not be read: leave the batch pending; it is reclaimed after the timeout.
        this.reserved -= count;
        this.deps.logger.warn({ err: e, queue, count: batch.length }, 'dispatch records could not be read; the batch will be redelivered');
        await new Promise((r) => setTimeout(r, backoff));
        continue;
      }
      this.reserved -= count;
      for (const p of prepared) this.dispatch(queue, p);
      if (batch.length < count) this.slotWaiters.shift()?.(); // slots it did not need go to the other lane
      // Let the tasks just started run their synchronous part before this lane reads again. At low
      // load (a batch of one or two) their results go out first, ahead of a read that may block;
      // under load the read goes first, so the next batch is on its way while Redis runs the acks.
      if (batch.length > 0) {
        await new Promise<void>((r) => setImmediate(r));
        if (batch.length <= 2 && this.acks.size > 0) void this.flushAcks();
      }
    }
    // A lane that stops hands its turn on, so a lane waiting for a slot notices the stop too.
    this.slotWaiters.shift()?.();
  }

  /** Reads the envelopes of a batch and looks up their dispatch records, in one ledger call. */
  private async prepare(batch: readonly Delivery[]): Promise<Prepared[]> {
    if (batch.length === 0) return [];
    const out: Prepared[] = [];
    const keys: DispatchKey[] = [];
    const at: number[] = [];
    for (const d of batch) {
      try {
        const env = fromFields(d.fields);
        const key = dispatchKeyOf(env);
        // Only a delivery that may repeat an earlier one needs its record looked up: one taken over
        // from another worker, a retry, or a message crash recovery published again. A first
        // delivery is the only message of its record (the ledger publishes a record once).
        if (key && (d.deliveryCount > 1 || env.retryAttempt > 0 || env.recovered)) {
          at.push(out.length);
          keys.push(key);
        }
        out.push({ delivery: d, env, key });
      } catch (invalid) {
        out.push({ delivery: d, invalid });
      }
    }
    if (keys.length > 0) {
      const views = await this.deps.ledger.inspect(keys);
      at.forEach((i, n) => { out[i] = { ...out[i]!, view: views[n] }; });
    }
    return out;
  }

  /** Runs a delivery now if a slot is free, else keeps it until one is. */
  private dispatch(queue: string, p: Prepared): void {
    if (this.inFlight.size >= this.concurrency) {
      this.waiting.push({ queue, prep: p });
      return;
    }
    const d = p.delivery;
    const slot: Slot = { queue, id: d.id, key: `${queue}\u0000${d.id}`, ...(p.key ? { record: p.key } : {}) };
    this.inFlight.set(slot.key, slot);
    void this.runSlot(queue, p, slot);
  }

  /** Handles a delivery, then frees its slot: the next waiting delivery, or a reader, takes it. */
  private async runSlot(queue: string, p: Prepared, slot: Slot): Promise<void> {
    const d = p.delivery;
    try {
      await this.handle(queue, p, slot);
    } catch (e) {
      // handle() settles every delivery itself; this is a bug, not bad input. The delivery stays
      // pending and is reclaimed after the visibility timeout.
      this.deps.logger.error({ err: e, queue, messageId: d.id }, 'unexpected error while handling a delivery');
    }
    this.inFlight.delete(slot.key);
    this.processed++;
    const next = this.waiting.shift();
    if (next) this.dispatch(next.queue, next.prep);
    else this.slotWaiters.shift()?.();
    if (this.inFlight.size === 0 && this.waiting.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async handle(queue: string, p: Prepared, slot: Slot): Promise<void> {
    const { delivery: d, env, key, view } = p;
    if (!env) return this.fail(queue, p, undefined, 0, p.invalid);
    // A delivery taken over from a crashed or stalled worker is a true redelivery: it counts as an attempt.
    const attempt = env.retryAttempt + Math.max(0, d.deliveryCount - 1);
    if (view && (view.state === DispatchState.ACKED || view.state === DispatchState.FAILED_FINAL)) {
      return this.settleDuplicate(queue, d, env, view);
    }
    const cancelled = this.deps.cancellations?.get(env.executionId);
    if (cancelled) return this.fail(queue, p, undefined, attempt, new CancelledError(cancelled.executionId, cancelled.reason));
    let def: RuntimeTaskDefinition | undefined;
    let input: unknown;
    try {
      const found = this.deps.tasks.resolve(env);
      def = found instanceof Promise ? await found : found;
      if (env.schemaId !== def.input.id) {
        await this.deps.schemas.resolve(env.schemaId);
        if (env.type !== def.input.fullName) {
          throw new WeftError(RuntimeErrorCode.SCHEMA_TYPE_MISMATCH,
            `message type ${env.type} is not the input type ${def.input.fullName} of task ${def.name}`);
        }
      }
      input = def.input.codec.decode(env.payload);
      if (env.deadlineMs !== undefined && Date.now() >= env.deadlineMs) {
        throw new WeftError(RuntimeErrorCode.DEADLINE_EXCEEDED, `the deadline ${new Date(env.deadlineMs).toISOString()} passed before the task started`);
      }
    } catch (e) {
      return this.fail(queue, p, def, attempt, e);
    }
    // A message that took its workers down (each crash a redelivery) is not run past its policy:
    // without this check it would never reach the failure path below, and loop for ever.
    // Only taken-over deliveries count here: a retry never exceeds the policy, and an operator's
    // replay of a dead letter is meant to run.
    const { maxAttempts } = this.retryPolicy(def);
    if (d.deliveryCount > 1 && attempt >= maxAttempts) {
      return this.fail(queue, p, def, attempt, new WeftError(DispatchErrorCode.RETRIES_EXHAUSTED,
        `delivered ${attempt + 1} times without finishing (a worker stopped or crashed while running it each time); maxAttempts is ${maxAttempts}`));
    }
    let instance: Runnable;
    try {
      instance = this.deps.instantiate(def);
    } catch (e) {
      return this.fail(queue, p, def, attempt, new WeftError(RuntimeErrorCode.TASK_INSTANTIATION_FAILED,
        `could not create task ${def.name}: ${messageOf(e)}. Register its constructor dependencies in the app's container.`, { cause: e }));
    }
    const timer = env.deadlineMs === undefined ? undefined
      : setTimeout(() => abortOf(slot).abort(new WeftError(RuntimeErrorCode.DEADLINE_EXCEEDED, 'deadline reached')), Math.max(0, env.deadlineMs - Date.now()));
    const ctx = new RunContext(env, def, d, slot, this.deps.transport, this.deps.logger, attempt, this.deps.submit, this.deps.emit);
    if (env.events) await this.stepEvent(env, { kind: 'step_started' });
    let payload: Uint8Array;
    try {
      const output = await instance.run(input, ctx);
      try {
        payload = def.output.codec.encode(output as never);
      } catch (e) {
        throw new WeftError(RuntimeErrorCode.OUTPUT_INVALID, `task ${def.name} returned an invalid ${def.output.fullName}: ${messageOf(e)}`, { cause: e });
      }
      if (!this.ensuredOutputs.has(def.output.id)) {
        await this.deps.schemas.ensure(def.output);
        this.ensuredOutputs.add(def.output.id);
      }
    } catch (e) {
      if (timer) clearTimeout(timer);
      // A task that gave up because its execution was cancelled ends as cancelled, whatever it threw.
      return this.fail(queue, p, def, attempt, cancellationOf(slot.abort?.signal) ?? e);
    }
    if (timer) clearTimeout(timer);
    if (env.events) await this.stepEvent(env, { kind: 'step_completed' });
    const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    this.queueAck(queue, {
      deliveryId: d.id,
      ...(key ? { key } : {}),
      ...(key && attempt !== env.retryAttempt ? { attempt } : {}),
      result: { bytes, schemaId: def.output.id, type: def.output.fullName },
      ...(env.replyTo ? { reply: { queue: env.replyTo, executionId: env.executionId, idempotencyKey: env.idempotencyKey } } : {}),
    });
  }

  /** A delivery of an item that already finished (a duplicate): ack it, and answer with the stored outcome. */
  private settleDuplicate(queue: string, d: Delivery, env: TaskEnvelope, view: LedgerView): void {
    let follow: Outgoing | undefined;
    if (env.replyTo) {
      const r = view.result;
      follow = { queue: env.replyTo, fields: view.state === DispatchState.ACKED && r
        ? resultReply(env.executionId, env.idempotencyKey, r.schemaId, r.type, r.bytes)
        : errorReply(env.executionId, env.idempotencyKey, view.lastError?.code ?? RuntimeErrorCode.TASK_FAILED, view.lastError?.message ?? 'the item failed') };
    }
    this.deps.logger.debug({ queue, messageId: d.id, state: view.state }, 'duplicate delivery of a finished item: not run');
    this.queueAck(queue, { deliveryId: d.id, ...(follow ? { follow } : {}) });
  }

  private retryPolicy(def: RuntimeTaskDefinition | undefined): RetryPolicy {
    const retries = def?.options?.retries;
    if (retries === undefined || !def) return this.policy;
    let p = this.policies.get(def.name);
    if (!p) this.policies.set(def.name, (p = { ...this.policy, maxAttempts: retries + 1 }));
    return p;
  }

  /** A failed attempt: retried with backoff when the error and the policy allow, else dead-lettered with diagnostics. */
  private async fail(queue: string, p: Prepared, def: RuntimeTaskDefinition | undefined, attempt: number, e: unknown): Promise<void> {
    const { delivery: d, env, key } = p;
    const nowMs = Date.now();
    const code = codeOf(e, RuntimeErrorCode.TASK_FAILED);
    const message = messageOf(e);
    const stack = e instanceof Error && e.stack ? e.stack.slice(0, 4000) : undefined;
    const error: DispatchFailure = stack ? { code, message, stack } : { code, message };
    const decision = nextAttemptDecision({ policy: this.retryPolicy(def), attempt, error: e, nowMs, deadlineMs: env?.deadlineMs });
    const details: Record<string, string> = {
      worker: this.consumer, delivery_count: String(d.deliveryCount), attempts: String(attempt + 1),
      // A retryable failure of a message without a dispatch record cannot be scheduled: it is final.
      final_reason: decision.action === 'fail' ? decision.reason : key ? 'retry' : 'untracked', failed_at_ms: String(nowMs),
    };
    if (env) {
      details.task = env.task;
      details.dispatch_ts_ms = String(env.dispatchTsMs);
      details.first_dispatch_ts_ms = String(env.dispatchTsMs);
      if (key) Object.assign(details, { execution_id: key.executionId, step_id: key.stepId, idempotency_key: key.idempotencyKey });
    }
    if (stack) details.stack = stack;
    const retry = decision.action === 'retry' && key ? { attempt: decision.attempt, notBeforeMs: decision.notBeforeMs } : undefined;
    if (!retry && key) {
      // A redelivery carries its own dispatch time; the first one is the record's creation.
      const first = p.view ?? (await this.deps.ledger.inspect([key]).then((v) => v[0], () => undefined));
      if (first?.createdAtMs !== undefined) details.first_dispatch_ts_ms = String(first.createdAtMs);
    }
    if (!retry && env?.events) await this.stepEvent(env, { kind: 'step_failed', error: { code, message } });
    if (retry) this.deps.logger.info({ queue, messageId: d.id, code, task: env?.task, attempt, nextAttempt: retry.attempt }, `attempt failed, retrying: ${message}`);
    else this.deps.logger.warn({ queue, messageId: d.id, code, task: env?.task, attempts: attempt + 1 }, `dead-lettered: ${message}`);
    try {
      await this.flushing;
      await this.deps.ledger.fail(queue, this.group, {
        delivery: d, ...(key ? { key, attempt } : {}), error, deadLetter: { code, message, details },
        ...(retry ? { retry } : {}),
        ...(!retry && env?.replyTo ? { follow: { queue: env.replyTo, fields: errorReply(env.executionId, env.idempotencyKey, code, message) } } : {}),
      }, nowMs);
      if (retry) this.redeliverAt(retry.notBeforeMs);
    } catch (err) {
      // The delivery stays pending and is reclaimed later: nothing is lost.
      this.deps.logger.error({ err, queue, messageId: d.id }, 'recording the failure failed; the message stays pending');
    }
  }

  private redeliverTimer?: NodeJS.Timeout;
  private redelivering?: Promise<void>;

  /** Publishes due retries sooner than the next poll when one is due before it. */
  private redeliverAt(dueMs: number): void {
    const wait = dueMs - Date.now();
    if (wait >= (this.options.retryPollMs ?? 200) || this.redeliverTimer) return;
    this.redeliverTimer = setTimeout(() => { this.redeliverTimer = undefined; void this.redeliver(); }, Math.max(0, wait) + 1);
  }

  /** Publishes the retries of this worker's queues that are due. One pass at a time. */
  private redeliver(): Promise<void> {
    if (this.redelivering || this.stopping) return this.redelivering ?? Promise.resolve();
    this.redelivering = (async () => {
      for (const queue of this.options.queues) {
        try {
          await this.deps.ledger.redeliverDue(queue, Date.now(), 500);
        } catch (err) {
          this.deps.logger.warn({ err, queue }, 'publishing due retries failed; trying again at the next poll');
        }
      }
    })().finally(() => { this.redelivering = undefined; });
    return this.redelivering;
  }

  private queueAck(queue: string, ack: LedgerAck): void {
    let list = this.acks.get(queue);
    if (!list) this.acks.set(queue, (list = []));
    list.push(ack);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => void this.flushAcks());
    }
  }

  private flushAcks(): Promise<void> {
    this.flushScheduled = false;
    const batches = [...this.acks.entries()];
    this.acks.clear();
    if (batches.length === 0) return this.flushing;
    const run = this.flushing.then(() => Promise.all(batches.map(async ([queue, acks]) => {
      try {
        await this.deps.ledger.complete(queue, this.group, acks, Date.now());
      } catch (err) {
        this.deps.logger.error({ err, queue, count: acks.length }, 'ack failed; these messages will be redelivered');
      }
    }))).then(() => undefined);
    this.flushing = run;
    return run;
  }

  private async heartbeat(): Promise<void> {
    const byQueue = new Map<string, string[]>();
    const add = (queue: string, id: string): void => {
      const ids = byQueue.get(queue);
      if (ids) ids.push(id);
      else byQueue.set(queue, [id]);
    };
    for (const s of this.inFlight.values()) add(s.queue, s.id);
    for (const w of this.waiting) add(w.queue, w.prep.delivery.id);
    const records: DispatchKey[] = [];
    for (const s of this.inFlight.values()) if (s.record) records.push(s.record);
    const { ledger } = this.deps;
    await Promise.all([
      ...[...byQueue].map(([q, ids]) => this.deps.transport.touch(q, this.group, this.consumer, ids)
        .catch((err: unknown) => this.deps.logger.warn({ err, queue: q }, 'heartbeat failed'))),
      // A long task's record stays fresh, so the reconciler does not take it for a stalled one.
      records.length && ledger.touch ? ledger.touch(records, Date.now())
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'refreshing dispatch records failed')) : undefined,
    ]);
  }

  private async reclaim(): Promise<void> {
    for (const queue of this.options.queues) {
      // Reads in progress are not counted: a read that blocks on an empty queue must not keep an
      // idle worker from reclaiming. What arrives beyond the limit waits for a slot.
      const room = this.concurrency - this.inFlight.size - this.waiting.length;
      if (this.stopping || room <= 0) return;
      try {
        const taken = await this.deps.transport.reclaim(queue, {
          group: this.group, consumer: this.consumer, minIdleMs: this.visibilityMs, count: room,
        });
        const fresh = taken.filter((d) => !this.inFlight.has(`${queue}\u0000${d.id}`) &&
          !this.waiting.some((w) => w.queue === queue && w.prep.delivery.id === d.id));
        for (const p of await this.prepare(fresh)) this.dispatch(queue, p);
      } catch (err) {
        this.deps.logger.warn({ err, queue }, 'reclaim failed');
      }
    }
  }
}
