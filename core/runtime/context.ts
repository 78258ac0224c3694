import type { Logger } from 'pino';
import type { Ctor } from '../../decorators/types';
import type { Schema } from '../schema/schema';
import type { TaskEnvelope } from '../tasks/wire';

/**
 * What a running task receives besides its input.
 *
 * @example
 * ```ts
 * async run(input: ExtractRequest, ctx: TaskContext): Promise<ExtractedRows> {
 *   ctx.logger.info({ table: input.table }, 'extracting');
 *   await ctx.progress({ done: 10, of: 100 });
 *   if (ctx.signal.aborted) throw new Error('cancelled');
 *   ...
 * }
 * ```
 */
export interface TaskContext {
  /** A pino child logger bound to `task`, `correlationId`, `executionId` and `messageId`. */
  readonly logger: Logger;
  /** Fires when the worker shuts down hard, or at the dispatch's deadline. */
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
  /** Reports progress to whoever awaits this task (`handle.status()`). Any JSON-serializable value. */
  progress(value: unknown): Promise<void>;
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
