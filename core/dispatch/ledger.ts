/**
 * The dispatch ledger: the runtime's one entry point to durable dispatch. Each operation pairs a
 * state transition of the per-item record with the transport operation it belongs to (publish,
 * ack, dead-letter, redeliver), so that a backend able to do both atomically (one Redis Lua script)
 * can, and every other backend gets the same behaviour from {@link StoreLedger}.
 *
 * @packageDocumentation
 */
import type { Delivery, DeadLetterReason, Fields, Outgoing } from '../runtime/transport';
import type { DispatchKey } from './key';
import type { DispatchState } from './state';
import type { DispatchFailure, DispatchRecord, DispatchResult } from './store';

/** One item to record and publish. */
export interface LedgerItem {
  readonly key: DispatchKey;
  readonly correlationId: string;
  readonly deadlineMs?: number;
  /** The wire fields, exactly as they are published and as recovery republishes them. */
  readonly fields: Fields;
}

/** What a ledger reports about an existing record. */
export interface LedgerView {
  readonly state: DispatchState;
  readonly attempt: number;
  /** Set once `ACKED`. */
  readonly result?: DispatchResult;
  /** The error of the latest failed attempt. */
  readonly lastError?: DispatchFailure;
  /** When the record was created: the first dispatch of the item, epoch ms. */
  readonly createdAtMs?: number;
}

/** The outcome of {@link DispatchLedger.send} for one item. */
export type SendOutcome =
  /** A new record: it is `SENT` and the message is on the queue. */
  | { readonly sent: true }
  /** A record with this key existed: nothing was published. `record` is where it stands. */
  | { readonly sent: false; readonly record: LedgerView };

/** One successful delivery to settle with {@link DispatchLedger.complete}. */
export interface LedgerAck {
  readonly deliveryId: string;
  /** The record to move to `ACKED`; omitted for a message that carries no dispatch key. */
  readonly key?: DispatchKey;
  readonly result?: DispatchResult;
  /**
   * The attempt that ran, when it differs from the record's: a delivery taken over from a crashed
   * worker is a new attempt that no transition has recorded yet.
   */
  readonly attempt?: number;
  /**
   * Where to send `result` as a result reply (see `core/runtime/reply.ts`), with the ids the reply
   * carries. Requires `result`.
   */
  readonly reply?: { readonly queue: string; readonly executionId: string; readonly idempotencyKey: string };
  /** Any other message to publish with the ack (e.g. the stored outcome, for a duplicate). */
  readonly follow?: Outgoing;
}

/** A failed delivery to settle with {@link DispatchLedger.fail}. */
export interface LedgerFailure {
  readonly delivery: Delivery;
  readonly key?: DispatchKey;
  /** The attempt that failed (see {@link LedgerAck.attempt}); the record takes it with the transition. */
  readonly attempt?: number;
  readonly error: DispatchFailure;
  /**
   * Present: the failure is retryable and attempt `retry.attempt` is redelivered no earlier than
   * `retry.notBeforeMs` (the record goes `SENT -> FAILED_RETRYABLE`). Absent: the failure is final
   * (`-> FAILED_FINAL`) and the delivery goes to the dead-letter queue with `deadLetter`.
   */
  readonly retry?: { readonly attempt: number; readonly notBeforeMs: number };
  /** The dead letter's reason and diagnostics, for a final failure. */
  readonly deadLetter: DeadLetterReason;
  /**
   * A message to publish once the failure is recorded: the error reply of a final failure, to
   * which the ledger adds the dead letter's id (`dead_letter_id`) when it knows it.
   */
  readonly follow?: Outgoing;
}

/** What {@link DispatchLedger.redeliverDue} did. */
export interface RedeliverStats {
  /** Retries published. */
  readonly redelivered: number;
  /** When the next scheduled retry of the queue is due, epoch ms; `undefined` when none is. */
  readonly nextDueMs?: number;
}

/**
 * The runtime's port to durable dispatch (see `docs/dispatch.md`). Every transport gets the same
 * semantics: {@link StoreLedger} composes any `DispatchStore` with any `Transport`; a plugin may
 * provide its own ledger (the Redis plugin does) to make each pair of operations one atomic step.
 *
 * Ordering rules every implementation keeps, so that a crash between two steps loses nothing:
 * - `send`: the record exists before the message is published;
 * - `complete` and `fail`: the record moves before the delivery is acknowledged, so a crash in
 *   between redelivers a message whose record already tells the worker what happened.
 */
export interface DispatchLedger {
  readonly name: string;
  /**
   * Records and publishes new items in one batch. An item whose record exists is not published
   * again (duplicate suppression): its outcome tells where the existing record stands.
   */
  send(queue: string, items: readonly LedgerItem[], nowMs: number): Promise<SendOutcome[]>;
  /** Where each record stands (`undefined`: no such record), in one round trip where possible. */
  inspect(keys: readonly DispatchKey[]): Promise<(LedgerView | undefined)[]>;
  /** Moves records to `ACKED` with their results, then acks the deliveries and publishes `follow`. */
  complete(queue: string, group: string, acks: readonly LedgerAck[], nowMs: number): Promise<void>;
  /** Records a failed attempt, schedules its retry or dead-letters it, and acks the delivery. */
  fail(queue: string, group: string, failure: LedgerFailure, nowMs: number): Promise<void>;
  /** Publishes the retries of `queue` that are due (`FAILED_RETRYABLE -> SENT`, attempt incremented). */
  redeliverDue(queue: string, nowMs: number, limit: number): Promise<RedeliverStats>;
  /**
   * Publishes records the reconciler claimed (they are `SENT`), each to its `queue`, with
   * `retry_attempt` set to the record's attempt.
   */
  republish(records: readonly DispatchRecord[]): Promise<void>;
  /**
   * Optional: tells whoever waits for these records that they failed. Each record was just moved to
   * `FAILED_FINAL` by crash recovery (its reason is `lastError`), so no worker will answer for it.
   * For each record whose message is still known (a stored envelope copy, or the queue entry read
   * back), writes a dead letter to its queue's dead-letter stream (acknowledging the delivery in the
   * `weft` group, if pending) and publishes an error reply to its `reply_to`, if it has one. A
   * record whose message is gone gets nothing: its reply queue cannot be known. The reconciler calls
   * it after the transition, and again after a crash (at least once); throwing leaves the notices
   * for a later round.
   */
  notifyFinal?(records: readonly DispatchRecord[], nowMs: number): Promise<void>;
  /**
   * Optional: marks `SENT` records as still being worked on (their `updatedAtMs` becomes `nowMs`),
   * so that the reconciler does not take a long task for a stalled one. Workers call it from their
   * heartbeat. Without it, keep the reconciler's `idleMs` above your longest task.
   */
  touch?(keys: readonly DispatchKey[], nowMs: number): Promise<void>;
  /** Releases timers the ledger holds. Never closes the store or the transport. */
  close?(): Promise<void>;
}

/** The view of a record a ledger returns. */
export function viewOf(r: DispatchRecord): LedgerView {
  return {
    state: r.state, attempt: r.attempt, createdAtMs: r.createdAtMs,
    ...(r.result ? { result: r.result } : {}),
    ...(r.lastError ? { lastError: r.lastError } : {}),
  };
}
