import type { Logger } from 'pino';
import type { Ctor, TaskClass, TaskInput, TaskOutput } from '../../decorators/types';
import type { Schema } from '../schema/schema';
import type { TaskEnvelope } from '../tasks/wire';

/**
 * What a running task receives besides its input.
 *
 * @example
 * ```ts
 * async run(input: ExtractRequest, ctx: TaskContext): Promise<ExtractedRows> {
 *   ctx.logger.info({ table: input.table }, 'extracting');
 *   await ctx.progress(10, 'extracting');
 *   if (ctx.signal.aborted) throw ctx.signal.reason; // cancelled (WEFT_CANCELLED) or past the deadline
 *   ...
 * }
 * ```
 */
export interface TaskContext {
  /** A pino child logger bound to `task`, `correlationId`, `executionId` and `messageId`. */
  readonly logger: Logger;
  /**
   * Fires at the dispatch's deadline (reason: `WEFT_DEADLINE_EXCEEDED`) or when the execution is
   * cancelled with `app.cancel` (reason: a `CancelledError`, `WEFT_CANCELLED`), on whatever machine
   * the task runs.
   */
  readonly signal: AbortSignal;
  /** 0 on the first attempt. */
  readonly attempt: number;
  readonly correlationId: string;
  readonly executionId: string;
  /** Absolute deadline, epoch ms, if the dispatch has one. */
  readonly deadlineMs?: number;
  /**
   * The item's deterministic idempotency key. Delivery is at-least-once: key an external effect by
   * it (an upsert, a unique constraint, `SET NX`) to make the effect happen once.
   */
  readonly idempotencyKey: string;
  /**
   * Reports progress: to whoever awaits this task (`handle.status().progress` becomes
   * `{ percent, message }`), and, when the message carries `events` (every flow step, and plain
   * submits with `SubmitOptions.events`), as a `progress` event on the execution's event stream
   * (`app.subscribe(executionId)`). Without `events` only the progress reply is sent: no event is
   * written. A failing event append does not fail the task (it is logged).
   *
   * @param percent - A finite number from 0 to 100.
   * @param message - What the task is doing, for people watching.
   * @throws WeftError `WEFT_PROGRESS_INVALID` for a percent outside 0..100 or a message that is not a string.
   *
   * @example
   * ```ts
   * await ctx.progress(40, `enriched ${done} of ${total} orders`);
   * ```
   */
  progress(percent: number, message?: string): Promise<void>;
  /**
   * The older form: any JSON-serializable value, sent as the progress reply as it is. Its
   * `progress` event carries the value's `percent` and `message` when it is an object such as
   * `{ percent: 40, message: '...' }`, else the value's JSON as the message, without a percent.
   *
   * @deprecated Use `progress(percent, message)`.
   */
  progress(value: unknown): Promise<void>;
  /**
   * Dispatches a child task from inside this one. The child inherits this item's execution id,
   * correlation id, trace and deadline (a child's deadline is the earlier of this item's and the
   * one asked for: it never extends the parent's), records this item as its parent
   * (`parent_item_id`), and gets an idempotency key derived from this item's key, its step and
   * `lineageIndex`: a parent that is redelivered and dispatches the same children again does not
   * duplicate them.
   *
   * @example
   * ```ts
   * async run(batch: OrderBatch, ctx: TaskContext): Promise<Accepted> {
   *   const handles = await Promise.all(batch.orders.map((o, i) => ctx.submit(Enrich, o, { lineageIndex: i })));
   *   ...
   * }
   * ```
   */
  submit<C extends TaskClass>(task: C, input: TaskInput<C>, options?: ChildSubmitOptions): Promise<ChildHandle<TaskOutput<C>>>;
}

/** Options of {@link TaskContext.submit}. */
export interface ChildSubmitOptions {
  /** The child's business key. Default: the parent's idempotency key. */
  readonly businessKey?: string;
  /** Tells apart several children of one parent (fan-out). Default 0. */
  readonly lineageIndex?: number;
  /** The child's step name. Default: the child task's name. */
  readonly step?: string;
  /** A deadline for the child, epoch ms; the parent's deadline wins when it is earlier. */
  readonly deadlineMs?: number;
  /** Default true. */
  readonly awaitResult?: boolean;
}

/** What {@link TaskContext.submit} returns: the child's handle. */
export interface ChildHandle<O> {
  readonly executionId: string;
  readonly idempotencyKey: string;
  /** `true` when the child had been dispatched before (a redelivered parent) and nothing was sent. */
  readonly deduplicated: boolean;
  result(): Promise<O>;
}

/** Submits a child task on behalf of a running one (the worker's link to the app's client). */
export type ChildSubmitter = (task: TaskClass, input: unknown, options: ChildDispatch) => Promise<ChildHandle<unknown>>;

/** The options the worker computes for a child dispatch. */
export interface ChildDispatch {
  readonly businessKey: string;
  readonly pipeline: string;
  readonly step?: string;
  readonly lineageIndex: number;
  readonly executionId: string;
  readonly correlationId: string;
  readonly parentItemId: string;
  readonly traceparent: string;
  readonly deadlineMs?: number;
  readonly awaitResult?: boolean;
}

/** The part of a task definition the runtime needs. */
export interface RuntimeTaskDefinition {
  readonly name: string;
  readonly version: number;
  readonly queue: string;
  readonly ctor: Ctor;
  readonly input: Schema;
  readonly output: Schema;
  /** `@Task` options the runtime applies: `retries` sets the retry policy's `maxAttempts` to `retries + 1`. */
  readonly options?: { readonly retries?: number };
}

/** Turns an envelope into the definition of the task to run (the resolver registry). */
export interface TaskLookup {
  resolve(envelope: TaskEnvelope): RuntimeTaskDefinition | Promise<RuntimeTaskDefinition>;
}

/** Something with a `run(input, ctx)` method: a task instance. */
export interface Runnable {
  run(input: unknown, ctx: TaskContext): unknown;
}
