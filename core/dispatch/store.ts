import type { DispatchKey } from './key';
import type { DispatchState } from './state';

/**
 * The message a record re-enqueues on recovery: flat wire fields, exactly as published (schema id,
 * type, payload and the dispatch metadata). Structurally the same as a transport's `Fields`.
 * Stores keep each value's kind: a `Buffer` comes back as a `Buffer`, a string as a string.
 */
export type DispatchEnvelope = Readonly<Record<string, string | Buffer>>;

/** The encoded output of an item that reached `ACKED`. */
export interface DispatchResult {
  /** Protobuf bytes of the output message. */
  readonly bytes: Buffer;
  /** The output's schema id. */
  readonly schemaId: string;
  /** The output's fully-qualified message name. */
  readonly type: string;
}

/** Why an attempt failed, as recorded on the record and in its history. */
export interface DispatchFailure {
  /** A stable code, e.g. `WEFT_DEADLINE_EXCEEDED` or the task error's own code. */
  readonly code: string;
  readonly message: string;
  readonly stack?: string;
}

/** One entry of a record's transition history. */
export interface DispatchHistoryEntry {
  /** When the transition happened (the caller's `nowMs`), epoch ms. */
  readonly atMs: number;
  readonly from: DispatchState;
  readonly to: DispatchState;
  /** The record's retry attempt after the transition. */
  readonly attempt: number;
  /** The failure given with the transition, if any. */
  readonly error?: DispatchFailure;
}

/** How many transitions a record's `history` keeps: the newest 50. */
export const DISPATCH_HISTORY_LIMIT = 50;

/** A durable per-item dispatch record, as a store returns it (always a fresh copy). */
export interface DispatchRecord extends DispatchKey {
  readonly state: DispatchState;
  /** The retry attempt: 0 for the first delivery, incremented only for a true redelivery. */
  readonly attempt: number;
  /** Kept unchanged across retries and recovery. */
  readonly correlationId: string;
  /** The absolute deadline, epoch ms, when the dispatch has one. */
  readonly deadlineMs?: number;
  readonly createdAtMs: number;
  /** The `nowMs` of the latest transition (or of `create`); recovery's idle clock. */
  readonly updatedAtMs: number;
  /** What recovery re-enqueues. */
  readonly envelope: DispatchEnvelope;
  /** Set by the transition to `ACKED` when it carried a result. */
  readonly result?: DispatchResult;
  /** The error of the most recent transition that carried one. Not cleared by later transitions. */
  readonly lastError?: DispatchFailure;
  /** The newest {@link DISPATCH_HISTORY_LIMIT} transitions, oldest first. */
  readonly history: readonly DispatchHistoryEntry[];
  /** The queue the envelope is published to, when the record was created with one (recovery needs it). */
  readonly queue?: string;
  /**
   * The transport's id of the message last sent for this record, when the store knows it. A store
   * that keeps this instead of a copy of the envelope returns an empty `envelope`; recovery then
   * reads the message back from the queue.
   */
  readonly messageId?: string;
  /** How many transitions the record has had in all; larger than `history.length` once truncated. */
  readonly transitionCount: number;
}

/** What {@link DispatchStore.create} needs. The record starts in `PENDING` with an empty history. */
export interface NewDispatchRecord extends DispatchKey {
  readonly correlationId: string;
  /** Default 0. */
  readonly attempt?: number;
  readonly deadlineMs?: number;
  readonly envelope: DispatchEnvelope;
  /** The queue the envelope goes to. Optional for the store; the runtime always sets it. */
  readonly queue?: string;
  /** The creation time, epoch ms: becomes `createdAtMs` and `updatedAtMs`. */
  readonly nowMs: number;
}

/** The outcome of {@link DispatchStore.create}. */
export type CreateDispatchResult =
  /** This call inserted the record. */
  | { readonly created: true; readonly record: DispatchRecord }
  /** A record with this key already existed; it is returned unchanged and nothing was written. */
  | { readonly created: false; readonly record: DispatchRecord };

/** A compare-and-set transition request; see {@link DispatchStore.transition}. */
export interface DispatchTransition {
  /** The state the caller believes the record is in. The transition happens only if it is. */
  readonly from: DispatchState;
  readonly to: DispatchState;
  /** When it happens, epoch ms: becomes `updatedAtMs` and the history entry's `atMs`. */
  readonly nowMs: number;
  /** The new retry attempt; omitted keeps the record's attempt. */
  readonly attempt?: number;
  /** Why the attempt failed. Only for transitions to `FAILED_RETRYABLE` or `FAILED_FINAL`. */
  readonly error?: DispatchFailure;
  /** The committed output. Only for transitions to `ACKED`. */
  readonly result?: DispatchResult;
}

/** The outcome of {@link DispatchStore.transition}. */
export type TransitionDispatchResult =
  /** The record was in `from` and is now in `to`; `record` is its new value. */
  | { readonly ok: true; readonly record: DispatchRecord }
  /**
   * The compare-and-set lost: the record is not in `from` (someone else moved it first), or it does
   * not exist (`current` is `undefined`). Nothing was written.
   */
  | { readonly ok: false; readonly current: DispatchRecord | undefined };

/** A page request of {@link DispatchStore.scan}. */
export interface DispatchScanRequest {
  /** Non-terminal states to list. Default: all three (`PENDING`, `SENT`, `FAILED_RETRYABLE`). */
  readonly states?: readonly DispatchState[];
  /**
   * An absolute cutoff, epoch ms: only records with `updatedAtMs < olderThanMs` are listed.
   * Recovery passes `now - idleThreshold`. Omitted: no age filter.
   */
  readonly olderThanMs?: number;
  /** Most records in one page, 1 to 1000. Default 100. */
  readonly limit?: number;
  /** The `cursor` of the previous page; omitted for the first page. */
  readonly cursor?: string;
}

/** One page of {@link DispatchStore.scan}. */
export interface DispatchScanPage {
  /** Matching records, oldest `updatedAtMs` first. */
  readonly records: DispatchRecord[];
  /**
   * Pass it back for the next page; `undefined` when the scan is complete. A page may hold fewer
   * than `limit` records, even none, while `cursor` is still set.
   */
  readonly cursor?: string;
}

/**
 * The storage port of replay-safe dispatch: one durable record per dispatched item, keyed by
 * `(executionId, stepId, idempotencyKey)`, moved between {@link DispatchState}s only by
 * compare-and-set transitions that follow the state machine in `core/dispatch/state`.
 *
 * @remarks
 * Implementations must:
 * - make `create` an idempotent insert: a second create of the same key returns the stored record
 *   and never overwrites it;
 * - make each `transition` one atomic compare-and-set: of many concurrent callers moving a record
 *   out of the same `from` state, exactly one succeeds; a transition that is not an edge of the
 *   state machine throws `IllegalTransitionError` before the store is read;
 * - append every successful transition to the record's history (time, from, to, attempt, error),
 *   keeping the newest {@link DISPATCH_HISTORY_LIMIT}, and update `updatedAtMs`;
 * - keep an index of non-terminal records by `updatedAtMs` so that `scan` does not read terminal
 *   records, and drop a record from it as soon as it becomes terminal;
 * - copy values in and out: mutating an argument or a returned record never changes what is stored;
 * - raise `DispatchKeyError` / `DispatchArgumentError` for malformed arguments, writing nothing.
 *
 * What a store does NOT do: decide when to retry or when to increment `attempt` (the runtime does,
 * and passes `attempt`), compare `nowMs` with the deadline, re-enqueue anything, route to a
 * dead-letter queue, lease or lock records between a `scan` and the transition that follows (two
 * recoverers may list the same record; the CAS lets only one of them move it), expire or purge
 * terminal records on its own, or guarantee a consistent snapshot across scan pages (a record
 * transitioned during a pass may be listed twice or missed; the next pass sees it).
 *
 * Plugins implement this port: `plugins/memory` (embedded) and `plugins/redis`. Both pass
 * `dispatchStoreConformance` from `core/testing`.
 */
export interface DispatchStore {
  /** A short, unique name for the implementation, e.g. `memory` or `redis`. */
  readonly name: string;

  /** Optional start-up work (connect, load scripts). Called once before any other method. */
  init?(): Promise<void>;

  /** Releases what the store owns. Resources it was handed (an existing client) stay open. */
  close(): Promise<void>;

  /**
   * Inserts a `PENDING` record unless one with the same key exists.
   *
   * @returns `{ created: true, record }` for a new record, `{ created: false, record }` with the
   *   existing record, unchanged, otherwise.
   * @throws `DispatchKeyError`, `DispatchArgumentError` for malformed input.
   */
  create(record: NewDispatchRecord): Promise<CreateDispatchResult>;

  /**
   * Moves the record from `change.from` to `change.to` if, and only if, it is in `change.from` now.
   *
   * @returns `{ ok: true, record }` with the updated record, or `{ ok: false, current }` when the
   *   CAS lost (`current` is the record as it is, `undefined` when there is no such record).
   * @throws `IllegalTransitionError` (`WEFT_DISPATCH_ILLEGAL_TRANSITION`) when `from -> to` is not
   *   an allowed edge, whatever the record's state; `DispatchArgumentError` for a malformed change.
   */
  transition(key: DispatchKey, change: DispatchTransition): Promise<TransitionDispatchResult>;

  /** The record, or `undefined` when there is none. */
  get(key: DispatchKey): Promise<DispatchRecord | undefined>;

  /**
   * One page of non-terminal records, oldest `updatedAtMs` first, for crash recovery. Terminal
   * records are never listed.
   *
   * @throws `DispatchArgumentError` for a terminal or unknown state, a bad limit, or a cursor this
   *   store did not hand out.
   */
  scan(request?: DispatchScanRequest): Promise<DispatchScanPage>;

  /**
   * Removes the record (in any state) and its index entry.
   *
   * @returns `true` when there was a record to remove.
   */
  delete(key: DispatchKey): Promise<boolean>;
}
