import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { WeftError } from '../errors';
import type { Schema } from '../schema/schema';
import { fromFields, TaskEnvelope } from '../tasks/wire';
import type { Runnable, RuntimeTaskDefinition, TaskContext, TaskLookup } from './context';
import { codeOf, messageOf, RuntimeErrorCode } from './errors';
import { errorReply, progressReply, resultReply } from './reply';
import type { Delivery, Outgoing, Transport } from './transport';

/** What a worker needs; the app bootstrap provides it. */
export interface WorkerDeps {
  readonly transport: Transport;
  /** Schema registry: `resolve` verifies unknown ids, `ensure` registers output schemas. */
  readonly schemas: { resolve(id: string): Promise<unknown>; ensure(schema: Schema): Promise<unknown> };
  readonly tasks: TaskLookup;
  /** Creates a task instance with its constructor dependencies (from the app's DI container). */
  readonly instantiate: (def: RuntimeTaskDefinition) => Runnable;
  readonly logger: Logger;
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
}

interface Slot {
  readonly queue: string;
  readonly id: string;
  /** Its key in the in-flight map. */
  readonly key: string;
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
  ) {
    this.attempt = env.retryAttempt;
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

  /** An arrow property, so that `const { progress } = ctx` works too. */
  readonly progress = async (value: unknown): Promise<void> => {
    if (this.env.replyTo) await this.transport.publish(this.env.replyTo, [progressReply(this.env.executionId, value)]);
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
  private readonly acks = new Map<string, { ids: string[]; follow: Outgoing[] }>();
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
  private readonly waiting: { queue: string; delivery: Delivery }[] = [];
  private slotWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private processed = 0;
  private maxRead = 1;

  constructor(private readonly deps: WorkerDeps, private readonly options: WorkerOptions) {
    if (options.queues.length === 0) throw new WeftError('WEFT_WORKER_NO_QUEUES', 'a worker needs at least one queue: give it tasks or queues');
    this.group = options.group ?? 'weft';
    this.consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.concurrency = Math.max(1, options.concurrency ?? 32);
    this.blockMs = options.blockMs ?? 1000;
    this.visibilityMs = options.visibilityTimeoutMs ?? 30_000;
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
    this.maxRead = Math.ceil(this.concurrency / lanes);
    this.loops = this.options.queues.flatMap((q) => Array.from({ length: lanes }, () => this.consumeLoop(q)));
    const beat = Math.max(50, Math.floor(this.visibilityMs / 3));
    this.timers.push(setInterval(() => void this.heartbeat(), beat));
    this.timers.push(setInterval(() => {
      this.reclaiming ??= this.reclaim().finally(() => { this.reclaiming = undefined; });
    }, Math.max(50, Math.floor(this.visibilityMs / 2))));
    return this;
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
      this.reserved -= count;
      for (const d of batch) this.dispatch(queue, d);
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

  /** Runs a delivery now if a slot is free, else keeps it until one is. */
  private dispatch(queue: string, d: Delivery): void {
    if (this.inFlight.size >= this.concurrency) {
      this.waiting.push({ queue, delivery: d });
      return;
    }
    const slot: Slot = { queue, id: d.id, key: `${queue}\u0000${d.id}` };
    this.inFlight.set(slot.key, slot);
    void this.runSlot(queue, d, slot);
  }

  /** Handles a delivery, then frees its slot: the next waiting delivery, or a reader, takes it. */
  private async runSlot(queue: string, d: Delivery, slot: Slot): Promise<void> {
    try {
      await this.handle(queue, d, slot);
    } catch (e) {
      // handle() settles every delivery itself; this is a bug, not bad input. The delivery stays
      // pending and is reclaimed after the visibility timeout.
      this.deps.logger.error({ err: e, queue, messageId: d.id }, 'unexpected error while handling a delivery');
    }
    this.inFlight.delete(slot.key);
    this.processed++;
    const next = this.waiting.shift();
    if (next) this.dispatch(next.queue, next.delivery);
    else this.slotWaiters.shift()?.();
    if (this.inFlight.size === 0 && this.waiting.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async handle(queue: string, d: Delivery, slot: Slot): Promise<void> {
    let env: TaskEnvelope | undefined;
    let def: RuntimeTaskDefinition;
    let input: unknown;
    try {
      env = fromFields(d.fields);
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
      return this.deadLetter(queue, d, env, e);
    }
    let instance: Runnable;
    try {
      instance = this.deps.instantiate(def);
    } catch (e) {
      return this.deadLetter(queue, d, env, new WeftError(RuntimeErrorCode.TASK_INSTANTIATION_FAILED,
        `could not create task ${def.name}: ${messageOf(e)}. Register its constructor dependencies in the app's container.`, { cause: e }));
    }
    const timer = env.deadlineMs === undefined ? undefined
      : setTimeout(() => abortOf(slot).abort(new WeftError(RuntimeErrorCode.DEADLINE_EXCEEDED, 'deadline reached')), Math.max(0, env.deadlineMs - Date.now()));
    const ctx = this.context(env, def, d, slot);
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
      return this.deadLetter(queue, d, env, e);
    }
    if (timer) clearTimeout(timer);
    this.queueAck(queue, d.id, env.replyTo
      ? { queue: env.replyTo, fields: resultReply(env.executionId, def.output.id, def.output.fullName, payload) }
      : undefined);
  }

  private context(env: TaskEnvelope, def: RuntimeTaskDefinition, d: Delivery, slot: Slot): TaskContext {
    return new RunContext(env, def, d, slot, this.deps.transport, this.deps.logger);
  }

  private async deadLetter(queue: string, d: Delivery, env: TaskEnvelope | undefined, e: unknown): Promise<void> {
    const code = codeOf(e, RuntimeErrorCode.TASK_FAILED);
    const message = messageOf(e);
    const details: Record<string, string> = { worker: this.consumer, delivery_count: String(d.deliveryCount) };
    if (e instanceof Error && e.stack) details.stack = e.stack.slice(0, 4000);
    this.deps.logger.warn({ queue, messageId: d.id, code, task: env?.task }, `dead-lettered: ${message}`);
    try {
      await this.flushing;
      await this.deps.transport.deadLetter(queue, this.group, d, { code, message, details });
      if (env?.replyTo) await this.deps.transport.publish(env.replyTo, [errorReply(env.executionId, code, message)]);
    } catch (err) {
      // The delivery stays pending and is reclaimed later: nothing is lost.
      this.deps.logger.error({ err, queue, messageId: d.id }, 'dead-lettering failed; the message stays pending');
    }
  }

  private queueAck(queue: string, id: string, follow: Outgoing | undefined): void {
    let entry = this.acks.get(queue);
    if (!entry) this.acks.set(queue, (entry = { ids: [], follow: [] }));
    entry.ids.push(id);
    if (follow) entry.follow.push(follow);
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
    const run = this.flushing.then(() => Promise.all(batches.map(async ([queue, b]) => {
      try {
        await this.deps.transport.ack(queue, this.group, b.ids, b.follow);
      } catch (err) {
        this.deps.logger.error({ err, queue, count: b.ids.length }, 'ack failed; these messages will be redelivered');
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
    for (const w of this.waiting) add(w.queue, w.delivery.id);
    await Promise.all([...byQueue].map(([q, ids]) => this.deps.transport.touch(q, this.group, this.consumer, ids)
      .catch((err: unknown) => this.deps.logger.warn({ err, queue: q }, 'heartbeat failed'))));
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
        for (const d of taken) {
          if (!this.inFlight.has(`${queue}\u0000${d.id}`) && !this.waiting.some((w) => w.queue === queue && w.delivery.id === d.id)) this.dispatch(queue, d);
        }
      } catch (err) {
        this.deps.logger.warn({ err, queue }, 'reclaim failed');
      }
    }
  }
}
