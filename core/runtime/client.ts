import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { WeftError } from '../errors';
import type { Schema } from '../schema/schema';
import { toFields } from '../tasks/wire';
import type { RuntimeTaskDefinition } from './context';
import { ClientClosedError, RemoteTaskError } from './errors';
import { parseReply, Reply } from './reply';
import type { Fields, Transport } from './transport';
import { newTraceparent, nextId } from './ids';

/** What a client needs; the app bootstrap provides it. */
export interface ClientDeps {
  readonly transport: Transport;
  readonly schemas: { resolve(id: string): Promise<unknown>; ensure(schema: Schema): Promise<unknown> };
  readonly logger: Logger;
}

/** Per-submit options. */
export interface SubmitOptions {
  /** Ties related work together in logs and traces. Default: the execution id. */
  readonly correlationId?: string;
  /** Absolute deadline, epoch ms. The task is not started after it and is aborted at it. */
  readonly deadlineMs?: number;
  /** W3C traceparent to continue; default a new trace. */
  readonly traceparent?: string;
  /** Set to false for fire-and-forget: no reply is sent and `result()` is unavailable. */
  readonly awaitResult?: boolean;
}

/** Where a submitted task stands, as far as this client knows. */
export interface TaskStatus {
  readonly state: 'pending' | 'succeeded' | 'failed';
  /** The last value the task passed to `ctx.progress()`, if any. */
  readonly progress?: unknown;
}

/**
 * A submitted task.
 *
 * @example
 * ```ts
 * const handle = await app.submit(Extract, request);
 * console.log(handle.status());          // { state: 'pending', progress: { done: 10 } }
 * const rows = await handle.result();    // typed ExtractedRows, or a coded RemoteTaskError
 * ```
 */
export class TaskHandle<O> {
  private state: TaskStatus['state'] = 'pending';
  private lastProgress: unknown;
  private value?: O;
  private error?: unknown;
  /** Made on the first `result()` call: a handle nobody awaits costs no promise (and no unhandled rejection). */
  private done?: Promise<O>;
  private settle?: { resolve: (v: O) => void; reject: (e: unknown) => void };

  /** @internal */
  constructor(readonly executionId: string, readonly task: string, private readonly awaited: boolean) {}

  /** The typed output, or a rejection with a coded error carrying the remote error's code and message. */
  result(): Promise<O> {
    if (!this.awaited) {
      return Promise.reject(new WeftError('WEFT_NO_RESULT', `task ${this.task} was submitted with awaitResult: false; it has no result to await`));
    }
    if (!this.done) {
      if (this.state === 'succeeded') this.done = Promise.resolve(this.value as O);
      else if (this.state === 'failed') this.done = Promise.reject(this.error);
      else this.done = new Promise<O>((resolve, reject) => { this.settle = { resolve, reject }; });
    }
    return this.done;
  }

  /** The latest known state and progress. */
  status(): TaskStatus {
    return { state: this.state, progress: this.lastProgress };
  }

  /** @internal */
  onReply(reply: Reply, decode: (r: Extract<Reply, { kind: 'result' }>) => O): boolean {
    if (reply.kind === 'progress') {
      try { this.lastProgress = JSON.parse(reply.progress); } catch { this.lastProgress = reply.progress; }
      return false;
    }
    if (reply.kind === 'error') {
      this.fail(new RemoteTaskError(reply.code, reply.message, this.task, this.executionId));
      return true;
    }
    let value: O;
    try {
      value = decode(reply);
    } catch (e) {
      this.fail(e);
      return true;
    }
    this.state = 'succeeded';
    this.value = value;
    this.settle?.resolve(value);
    return true;
  }

  /** @internal */
  abandon(e: unknown): void {
    this.fail(e);
  }

  private fail(e: unknown): void {
    if (this.state !== 'pending') return;
    this.state = 'failed';
    this.error = e;
    this.settle?.reject(e);
  }
}

interface Pending { readonly handle: TaskHandle<unknown>; readonly def: RuntimeTaskDefinition }

/**
 * Submits tasks and receives their results on a reply queue of its own.
 *
 * @remarks
 * The input is validated and encoded before anything is sent: a `ValidationError` means nothing
 * left the process. `submitMany` publishes a whole batch in one transport call (one pipeline on
 * Redis). The reply loop runs only while results are awaited, so an idle client holds no handles.
 */
export class Client {
  /** This client's reply queue. */
  readonly replyQueue: string;
  private readonly pending = new Map<string, Pending>();
  private loop?: Promise<void>;
  /** Replies read but not acknowledged yet: they go with the next read of the reply queue. */
  private unacked: string[] = [];
  private closed = false;

  constructor(private readonly deps: ClientDeps, options: { replyQueue?: string; replyBlockMs?: number } = {}) {
    this.replyQueue = options.replyQueue ?? `replies.${randomBytes(8).toString('hex')}`;
    this.replyBlockMs = options.replyBlockMs ?? 1000;
  }

  private readonly replyBlockMs: number;

  /** Submits one task. */
  async submit<I, O>(def: RuntimeTaskDefinition, input: I, options: SubmitOptions = {}): Promise<TaskHandle<O>> {
    const [h] = await this.submitMany<I, O>(def, [input], options);
    return h;
  }

  /** Submits many tasks of one kind in one transport call. */
  async submitMany<I, O>(def: RuntimeTaskDefinition, inputs: readonly I[], options: SubmitOptions = {}): Promise<TaskHandle<O>[]> {
    if (this.closed) throw new WeftError('WEFT_CLIENT_CLOSED', 'the client is closed; create a new app or client');
    const awaitResult = options.awaitResult !== false;
    const payloads = inputs.map((i) => def.input.codec.encode(i as never)); // validates; throws before anything is sent
    await this.deps.schemas.ensure(def.input);
    const now = Date.now();
    const handles: TaskHandle<O>[] = [];
    const messages: Fields[] = payloads.map((payload) => {
      const executionId = nextId();
      const handle = new TaskHandle<O>(executionId, def.name, awaitResult);
      handles.push(handle);
      if (awaitResult) this.pending.set(executionId, { handle: handle as TaskHandle<unknown>, def });
      return toFields({
        schemaId: def.input.id, type: def.input.fullName, payload,
        task: `${def.name}@${def.version}`, resolverId: 'default', strategy: 'registry',
        correlationId: options.correlationId ?? executionId, executionId, idempotencyKey: executionId,
        retryAttempt: 0, deadlineMs: options.deadlineMs, dispatchTsMs: now, parentItemId: '',
        traceparent: options.traceparent ?? newTraceparent(),
        replyTo: awaitResult ? this.replyQueue : '',
      });
    });
    // The messages go out first (publish writes them before its first await), then the reply loop
    // starts: the consumer group keeps a reply that arrives before the loop reads.
    const sent = this.deps.transport.publish(def.queue, messages);
    if (awaitResult) this.ensureLoop();
    try {
      await sent;
    } catch (e) {
      for (const h of handles) {
        this.pending.delete(h.executionId);
        h.abandon(e);
      }
      throw e;
    }
    return handles;
  }

  /** Stops receiving replies; results still awaited reject with `WEFT_CLIENT_CLOSED`. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [id, p] of this.pending) p.handle.abandon(new ClientClosedError(id));
    this.pending.clear();
    await this.loop;
    const left = this.unacked;
    this.unacked = [];
    if (left.length) {
      await this.deps.transport.ack(this.replyQueue, 'client', left).catch((e: unknown) => this.deps.logger.warn({ err: e }, 'acking replies failed'));
    }
  }

  private ensureLoop(): void {
    if (!this.loop) this.loop = this.replyLoop().finally(() => { this.loop = undefined; if (this.pending.size && !this.closed) this.ensureLoop(); });
  }

  private async replyLoop(): Promise<void> {
    const { transport, logger } = this.deps;
    // Each batch is acknowledged with the read of the next one (one round trip); what is left when
    // the loop ends goes with the first read of the next loop, or is acknowledged by close().
    let toAck = this.unacked;
    this.unacked = [];
    while (!this.closed && this.pending.size > 0) {
      let batch;
      try {
        batch = await transport.consume(this.replyQueue, { group: 'client', consumer: 'c', count: 1000, blockMs: this.replyBlockMs, ack: toAck, trimAcked: true });
        toAck = [];
      } catch (e) {
        if (this.closed) break;
        logger.warn({ err: e }, 'reading replies failed; retrying');
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      for (const d of batch) {
        toAck.push(d.id);
        const reply = parseReply(d.fields);
        const p = reply && this.pending.get(reply.executionId);
        if (!reply || !p) continue;
        if (p.handle.onReply(reply, (r) => this.decodeResult(p.def, r))) this.pending.delete(reply.executionId);
      }
    }
    this.unacked = toAck;
  }

  private decodeResult(def: RuntimeTaskDefinition, r: Extract<Reply, { kind: 'result' }>): unknown {
    if (r.type !== def.output.fullName) {
      throw new WeftError('WEFT_SCHEMA_TYPE_MISMATCH', `task ${def.name} replied with a ${r.type}, not its output type ${def.output.fullName}`);
    }
    return def.output.codec.decode(r.payload);
  }
}
