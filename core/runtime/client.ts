import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { WeftError } from '../errors';
import type { Schema } from '../schema/schema';
import { toFields } from '../tasks/wire';
import type { DispatchLedger, LedgerItem, LedgerView, SendOutcome } from '../dispatch/ledger';
import { idempotencyKey } from '../dispatch/idempotency';
import { DispatchState, isTerminalState } from '../dispatch/state';
import type { DispatchKey } from '../dispatch/key';
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
  /** Durable dispatch: every submit is recorded, and a duplicate is not sent again. */
  readonly ledger: DispatchLedger;
}

/** Per-submit options. */
export interface SubmitOptions<I = unknown> {
  /**
   * The business identity of the work, e.g. an order id. Work with the same identity is the same
   * work: submitting it again (from any process) does not run it again, and the duplicate's handle
   * gets the first one's result. A string applies to every item of a `submitMany` batch, told apart
   * by their lineage index (0, 1, 2...); a function gives each item its own key.
   *
   * Omitted: every submit is new work, identified by a generated execution id.
   */
  readonly businessKey?: string | ((input: I, index: number) => string);
  /** The pipeline's stable name, part of the idempotency key. Default: the task name. */
  readonly pipeline?: string;
  /** The step's stable name, part of the idempotency key and of the record key. Default: the task name. */
  readonly step?: string;
  /** The lineage index of the first item (see `idempotencyKey`). Default 0. */
  readonly lineageIndex?: number;
  /**
   * The execution the items belong to. Default: derived from `pipeline` and `businessKey`
   * (so a resubmit lands on the same record), or a new id without a business key.
   */
  readonly executionId?: string;
  /** The item that dispatched this one, for lineage. */
  readonly parentItemId?: string;
  /** Ties related work together in logs and traces. Default: the execution id. */
  readonly correlationId?: string;
  /** Absolute deadline, epoch ms. The task is not started after it and is aborted at it. */
  readonly deadlineMs?: number;
  /** W3C traceparent to continue; default a new trace. */
  readonly traceparent?: string;
  /** Set to false for fire-and-forget: no reply is sent and `result()` is unavailable. */
  readonly awaitResult?: boolean;
  /**
   * The worker appends `step_started`, then `step_completed` or `step_failed`, and a `progress`
   * event for each `ctx.progress` call, to the execution's event stream (the wire field `events` =
   * `1`, with `lineage_index`), for `app.subscribe(executionId)`. Default false: the worker writes
   * no events at all (no lifecycle, no progress events), only the progress reply that
   * `handle.status()` reads.
   */
  readonly events?: boolean;
}

/**
 * @internal One already-encoded item of {@link Client.dispatchEncoded}: the orchestrator passes step
 * outputs on as bytes (their compatibility with the next input was checked at registration).
 */
export interface EncodedItem {
  readonly payload: Buffer;
  readonly lineageIndex: number;
}

/** @internal Options of {@link Client.dispatchEncoded}: everything explicit, nothing derived. */
export interface EncodedDispatchOptions {
  readonly executionId: string;
  readonly pipeline: string;
  readonly step: string;
  /** Hashed with pipeline, step and each item's lineage index into its idempotency key. */
  readonly businessKey: string;
  readonly parentItemId: string;
  /** Where the worker sends each item's result or error reply (the orchestrators' queue). */
  readonly replyTo: string;
  readonly correlationId?: string;
  readonly deadlineMs?: number;
  readonly traceparent?: string;
  /** Workers append step events (with the lineage index) for these items; see `SubmitOptions.events`. */
  readonly events?: boolean;
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

  /**
   * `true` when the submit found the same work already recorded and sent nothing: the handle
   * follows the first dispatch.
   */
  deduplicated = false;

  /** @internal */
  constructor(
    readonly executionId: string,
    /** The item's deterministic idempotency key. */
    readonly idempotencyKey: string,
    readonly task: string,
    private readonly awaited: boolean,
  ) {}

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
      this.fail(new RemoteTaskError(reply.code, reply.message, this.task, this.executionId, reply.deadLetterId));
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
 * A reply queue expires about this long after its client last read it (the client refreshes the
 * TTL every half of it), so a client that crashed leaves nothing behind for longer (24 hours).
 */
export const REPLY_QUEUE_TTL_MS = 24 * 3600 * 1000;

/** The step name reserved for deriving an execution id from a business key. */
export const EXECUTION_STEP = '$execution';

/** How often a client looks up a duplicate that was still in flight when it was submitted, ms. */
const WATCH_MS = 100;

/**
 * Submits tasks and receives their results on a reply queue of its own.
 *
 * @remarks
 * The input is validated and encoded before anything is sent: a `ValidationError` means nothing
 * left the process. Every item gets a deterministic idempotency key and a durable dispatch record
 * before it is published; a submit of work that is already recorded publishes nothing and follows
 * the existing record instead. `submitMany` records and publishes a whole batch in one ledger call
 * (one pipeline on Redis). The reply loop runs only while results are awaited, so an idle client
 * holds no handles.
 */
export class Client {
  /** This client's reply queue. */
  readonly replyQueue: string;
  /** Awaited items by `executionId \0 idempotencyKey`: one entry per handle (a duplicate submit adds one). */
  private readonly pending = new Map<string, Pending[]>();
  /** Duplicates whose first dispatch was in flight elsewhere: looked up until they finish. */
  private readonly watched = new Map<string, DispatchKey>();
  private watchTimer?: NodeJS.Timeout;
  private loop?: Promise<void>;
  /** Replies read but not acknowledged yet: they go with the next read of the reply queue. */
  private unacked: string[] = [];
  private closed = false;
  /** When this client last set its reply queue's TTL (epoch ms; 0: never). */
  private expiryRefreshedAt = 0;

  constructor(private readonly deps: ClientDeps, options: { replyQueue?: string; replyBlockMs?: number } = {}) {
    this.replyQueue = options.replyQueue ?? `replies.${randomBytes(8).toString('hex')}`;
    this.replyBlockMs = options.replyBlockMs ?? 1000;
  }

  private readonly replyBlockMs: number;

  /** Submits one task. */
  async submit<I, O>(def: RuntimeTaskDefinition, input: I, options: SubmitOptions<I> = {}): Promise<TaskHandle<O>> {
    const [h] = await this.submitMany<I, O>(def, [input], options);
    return h;
  }

  /** Submits many tasks of one kind in one ledger call. */
  async submitMany<I, O>(def: RuntimeTaskDefinition, inputs: readonly I[], options: SubmitOptions<I> = {}): Promise<TaskHandle<O>[]> {
    if (this.closed) throw new WeftError('WEFT_CLIENT_CLOSED', 'the client is closed; create a new app or client');
    const awaitResult = options.awaitResult !== false;
    const payloads = inputs.map((i) => def.input.codec.encode(i as never)); // validates; throws before anything is sent
    await this.deps.schemas.ensure(def.input);
    const now = Date.now();
    const pipeline = options.pipeline ?? def.name;
    const step = options.step ?? def.name;
    const firstLineage = options.lineageIndex ?? 0;
    const handles: TaskHandle<O>[] = [];
    const items: LedgerItem[] = payloads.map((payload, i) => {
      const bk = typeof options.businessKey === 'function' ? options.businessKey(inputs[i]!, i) : options.businessKey;
      const executionId = options.executionId ??
        (bk === undefined ? nextId() : idempotencyKey({ pipeline, step: EXECUTION_STEP, businessKey: bk, lineageIndex: 0 }));
      const lineageIndex = firstLineage + (typeof options.businessKey === 'function' ? 0 : i);
      const key = idempotencyKey({ pipeline, step, businessKey: bk ?? executionId, lineageIndex });
      const handle = new TaskHandle<O>(executionId, key, def.name, awaitResult);
      handles.push(handle);
      return ledgerItem(def, payload, now, {
        executionId, step, key, lineageIndex, correlationId: options.correlationId ?? executionId,
        deadlineMs: options.deadlineMs, parentItemId: options.parentItemId ?? '', traceparent: options.traceparent,
        replyTo: awaitResult ? this.replyQueue : '', events: options.events,
      });
    });
    if (awaitResult) handles.forEach((h) => this.track(h as TaskHandle<unknown>, def));
    let outcomes;
    try {
      outcomes = await this.deps.ledger.send(def.queue, items, now);
    } catch (e) {
      for (const h of handles) {
        this.untrack(h as TaskHandle<unknown>);
        h.abandon(e);
      }
      throw e;
    }
    outcomes.forEach((o, i) => {
      if (o.sent) return;
      const h = handles[i]!;
      h.deduplicated = true;
      if (awaitResult) this.follow(h as TaskHandle<unknown>, items[i]!.key, o.record);
    });
    if (awaitResult && this.pending.size > 0) this.ensureLoop();
    return handles;
  }

  /**
   * @internal Records and publishes already-encoded inputs of one step in one ledger call, with
   * replies going to `options.replyTo` instead of this client (nothing is tracked here). The
   * idempotency keys are deterministic, so dispatching the same items again publishes nothing.
   * Returns each item's idempotency key and send outcome.
   */
  async dispatchEncoded(def: RuntimeTaskDefinition, items: readonly EncodedItem[], options: EncodedDispatchOptions): Promise<{ keys: string[]; outcomes: SendOutcome[] }> {
    if (this.closed) throw new WeftError('WEFT_CLIENT_CLOSED', 'the client is closed; create a new app or client');
    if (items.length === 0) return { keys: [], outcomes: [] };
    await this.deps.schemas.ensure(def.input);
    const now = Date.now();
    const { executionId, pipeline, step } = options;
    const keys: string[] = [];
    const ledgerItems: LedgerItem[] = items.map((item) => {
      const key = idempotencyKey({ pipeline, step, businessKey: options.businessKey, lineageIndex: item.lineageIndex });
      keys.push(key);
      return ledgerItem(def, item.payload, now, {
        executionId, step, key, lineageIndex: item.lineageIndex, correlationId: options.correlationId ?? executionId,
        deadlineMs: options.deadlineMs, parentItemId: options.parentItemId, traceparent: options.traceparent,
        replyTo: options.replyTo, events: options.events,
      });
    });
    return { keys, outcomes: await this.deps.ledger.send(def.queue, ledgerItems, now) };
  }

  private static slot(executionId: string, key: string): string {
    return `${executionId}\u0000${key}`;
  }

  private track(h: TaskHandle<unknown>, def: RuntimeTaskDefinition): void {
    const k = Client.slot(h.executionId, h.idempotencyKey);
    const list = this.pending.get(k);
    if (list) list.push({ handle: h, def });
    else this.pending.set(k, [{ handle: h, def }]);
  }

  private untrack(h: TaskHandle<unknown>): void {
    const k = Client.slot(h.executionId, h.idempotencyKey);
    const list = this.pending.get(k)?.filter((p) => p.handle !== h);
    if (list?.length) this.pending.set(k, list);
    else this.pending.delete(k);
  }

  /** A duplicate submit: settle it from the record, or watch the record until it finishes. */
  private follow(h: TaskHandle<unknown>, key: DispatchKey, view: LedgerView): void {
    if (isTerminalState(view.state)) {
      this.settleFromRecord(Client.slot(h.executionId, h.idempotencyKey), view);
      return;
    }
    // Its reply goes to the first submitter. If that is this client, the reply settles every handle.
    const k = Client.slot(h.executionId, h.idempotencyKey);
    const list = this.pending.get(k) ?? [];
    if (list.length > 1 && list.some((p) => !p.handle.deduplicated)) return;
    this.watched.set(k, key);
    this.watchTimer ??= setInterval(() => void this.checkWatched(), WATCH_MS);
    this.watchTimer.unref?.();
  }

  private settleFromRecord(slot: string, view: LedgerView): void {
    const list = this.pending.get(slot);
    if (!list) return;
    this.pending.delete(slot);
    this.watched.delete(slot);
    for (const p of list) {
      const [executionId, key] = [p.handle.executionId, p.handle.idempotencyKey];
      if (view.state === DispatchState.ACKED && view.result) {
        p.handle.onReply({ kind: 'result', executionId, idempotencyKey: key, schemaId: view.result.schemaId, type: view.result.type, payload: view.result.bytes },
          (r) => this.decodeResult(p.def, r));
      } else {
        p.handle.onReply({ kind: 'error', executionId, idempotencyKey: key, code: view.lastError?.code ?? 'WEFT_TASK_FAILED',
          message: view.lastError?.message ?? `the item ended ${view.state}` }, () => undefined);
      }
    }
  }

  private checking = false;

  private async checkWatched(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const entries = [...this.watched];
      if (entries.length === 0 || this.closed) {
        if (this.watchTimer) clearInterval(this.watchTimer);
        this.watchTimer = undefined;
        return;
      }
      const views = await this.deps.ledger.inspect(entries.map(([, key]) => key));
      entries.forEach(([slot], i) => {
        const v = views[i];
        if (v && isTerminalState(v.state)) this.settleFromRecord(slot, v);
      });
    } catch (e) {
      this.deps.logger.warn({ err: e }, 'looking up duplicate dispatches failed; retrying');
    } finally {
      this.checking = false;
    }
  }

  /** Stops receiving replies; results still awaited reject with `WEFT_CLIENT_CLOSED`. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
    this.watched.clear();
    for (const list of this.pending.values()) for (const p of list) p.handle.abandon(new ClientClosedError(p.handle.executionId));
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
      // The queue's TTL is set on the first read and refreshed every half TTL: not a write per read.
      const refresh = Date.now() - this.expiryRefreshedAt >= REPLY_QUEUE_TTL_MS / 2;
      try {
        batch = await transport.consume(this.replyQueue, {
          group: 'client', consumer: 'c', count: 1000, blockMs: this.replyBlockMs, ack: toAck, trimAcked: true,
          ...(refresh ? { expireMs: REPLY_QUEUE_TTL_MS } : {}),
        });
        toAck = [];
        if (refresh) this.expiryRefreshedAt = Date.now();
      } catch (e) {
        if (this.closed) break;
        logger.warn({ err: e }, 'reading replies failed; retrying');
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      for (const d of batch) {
        toAck.push(d.id);
        const reply = parseReply(d.fields);
        if (!reply) continue;
        const slot = Client.slot(reply.executionId, reply.idempotencyKey);
        const list = this.pending.get(slot);
        if (!list) continue;
        let done = false;
        for (const p of list) done = p.handle.onReply(reply, (r) => this.decodeResult(p.def, r)) || done;
        if (done) {
          this.pending.delete(slot);
          this.watched.delete(slot);
        }
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

/** What one dispatched item's record and message need besides its task and payload. */
interface ItemIdentity {
  readonly executionId: string;
  readonly step: string;
  readonly key: string;
  readonly lineageIndex: number;
  readonly correlationId: string;
  readonly deadlineMs: number | undefined;
  readonly parentItemId: string;
  readonly traceparent: string | undefined;
  readonly replyTo: string;
  readonly events: boolean | undefined;
}

/** The ledger item of one task message: its record key and its wire fields (a new trace unless one is given). */
function ledgerItem(def: RuntimeTaskDefinition, payload: Uint8Array, nowMs: number, it: ItemIdentity): LedgerItem {
  return {
    key: { executionId: it.executionId, stepId: it.step, idempotencyKey: it.key }, correlationId: it.correlationId,
    ...(it.deadlineMs === undefined ? {} : { deadlineMs: it.deadlineMs }),
    fields: toFields({
      schemaId: def.input.id, type: def.input.fullName, payload,
      task: `${def.name}@${def.version}`, resolverId: 'default', strategy: 'registry',
      correlationId: it.correlationId, executionId: it.executionId, idempotencyKey: it.key, stepId: it.step,
      retryAttempt: 0, deadlineMs: it.deadlineMs, dispatchTsMs: nowMs, parentItemId: it.parentItemId,
      traceparent: it.traceparent ?? newTraceparent(), replyTo: it.replyTo,
      ...(it.events ? { events: true, lineageIndex: it.lineageIndex } : {}),
    }),
  };
}
