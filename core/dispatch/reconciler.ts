/**
 * Crash recovery: a loop that finds dispatch records left idle in a non-terminal state and
 * re-enqueues them, coordinated between any number of instances by the store's CAS alone.
 *
 * @packageDocumentation
 */
import { RuntimeErrorCode } from '../runtime/errors';
import { isExpired } from './deadline';
import { DispatchArgumentError, DispatchErrorCode } from './errors';
import { describeValue, formatDispatchKey, MAX_KEY_PART_LENGTH, type DispatchKey } from './key';
import { MAX_SCAN_LIMIT } from './record';
import { DispatchState, NON_TERMINAL_STATES } from './state';
import type { DispatchFailure, DispatchRecord, DispatchStore, DispatchTransition } from './store';

/** The subset of a pino logger the reconciler uses. A pino `Logger` fits. */
export interface ReconcilerLogger {
  warn(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

/** Options of {@link Reconciler}. */
export interface ReconcilerOptions {
  /** Where the records live. Shared by every reconciler and by the runtime. */
  readonly store: DispatchStore;
  /**
   * Re-enqueues records the reconciler has claimed. Each record is in `SENT`, as the claiming
   * transition left it: keep its `idempotencyKey`, `correlationId` and `envelope`, and take the
   * retry attempt from `record.attempt` (the stored envelope's `retry_attempt` is the one of the
   * first dispatch). If it throws, the records stay `SENT`; a later round redelivers them once
   * they are idle again.
   */
  readonly republish: (records: DispatchRecord[]) => Promise<void>;
  /**
   * Tells the waiters of records the reconciler moved to `FAILED_FINAL` (deadline passed, attempts
   * exhausted) that they failed: a dead letter and an error reply to the item's `reply_to` (the
   * runtime passes the ledger's `notifyFinal`). Called after the transition, at least once: a
   * notice marker record (see {@link NOTICE_STEP_PREFIX}) is written before the transition and
   * deleted once `notify` returned, so a crash or a throw in between leaves the marker, and a later
   * round (once the marker is idle) notifies again. Omitted: nobody is told.
   */
  readonly notify?: (records: DispatchRecord[]) => Promise<void>;
  /** A record counts as stalled once `updatedAtMs` is this many ms old. Default 30 000. */
  readonly idleMs?: number;
  /** Ms between the end of one round and the start of the next, for {@link Reconciler.start}. Default 5 000. */
  readonly intervalMs?: number;
  /** Records per scan page, 1 to 1000. Default 100. */
  readonly batch?: number;
  /**
   * Total attempts allowed, as in `RetryPolicy.maxAttempts`. When a redelivery would be attempt
   * number `maxAttempts` (0-based) or later, the record goes to `FAILED_FINAL` with
   * `WEFT_DISPATCH_RETRIES_EXHAUSTED` instead. Omitted: no limit here (the runtime's policy decides).
   */
  readonly maxAttempts?: number;
  /** Epoch ms. Default `Date.now`. */
  readonly clock?: () => number;
  readonly logger?: ReconcilerLogger;
}

/** What one {@link Reconciler.runOnce} did. */
export interface ReconcileStats {
  /** Idle non-terminal records listed by the scan. */
  scanned: number;
  /** Records this instance claimed and handed to `republish` successfully. */
  republished: number;
  /** Records another actor moved first (a lost CAS, or a claim that proved to be on a newer version). */
  lostRaces: number;
  /** Records moved to `FAILED_FINAL` because their deadline had passed. */
  expired: number;
  /** Records moved to `FAILED_FINAL` because `maxAttempts` was reached. */
  exhausted: number;
  /** Claimed records whose `republish` threw; they are left `SENT` for a later round. */
  republishFailed: number;
  /** `FAILED_FINAL` records handed to `notify` successfully (this round's, and earlier rounds' left by a crash). */
  notified: number;
  /** `FAILED_FINAL` records whose `notify` threw; their markers stay, and a later round notifies again. */
  notifyFailed: number;
}

/**
 * The step id prefix of notice markers: a marker is a `PENDING` record with the key of a record
 * the reconciler is about to end `FAILED_FINAL`, but the step id `weft.notice:<stepId>`, an empty
 * envelope and the record's queue. It lives from just before the transition to just after the
 * waiters were told, so the scan lists it only if a reconciler stopped in between.
 */
export const NOTICE_STEP_PREFIX = 'weft.notice:';

/** Defaults of {@link ReconcilerOptions}. */
export const RECONCILER_DEFAULTS = Object.freeze({ idleMs: 30_000, intervalMs: 5_000, batch: 100 });

/** A record ended `FAILED_FINAL` whose waiters are to be told, with its notice marker (if one was written). */
interface Final { readonly record: DispatchRecord; readonly marker?: DispatchKey }

type Claim =
  | { readonly kind: 'claimed'; readonly record: DispatchRecord }
  | { readonly kind: 'expired' | 'exhausted'; readonly final: Final }
  | { readonly kind: 'notice'; readonly final?: Final }
  | { readonly kind: 'lost' };

/** The key of the notice marker of `key`; `undefined` when the step id would be too long for one. */
function markerKeyOf(key: DispatchKey): DispatchKey | undefined {
  const stepId = NOTICE_STEP_PREFIX + key.stepId;
  return stepId.length > MAX_KEY_PART_LENGTH ? undefined : { executionId: key.executionId, stepId, idempotencyKey: key.idempotencyKey };
}

function checkInt(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new DispatchArgumentError(`Reconciler: ${what} must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Finds records idle in `PENDING`, `SENT` or `FAILED_RETRYABLE` and re-enqueues them, keeping
 * their idempotency key and correlation id. Several instances may run against one store with no
 * leader: every claim is a compare-and-set, and only the instance whose claim wins republishes.
 *
 * @remarks
 * One round ({@link runOnce}) scans records with `updatedAtMs < now - idleMs`, page by page. For
 * each record `r` as scanned:
 *
 * - deadline passed: `r.state -> FAILED_FINAL` with `WEFT_DEADLINE_EXCEEDED` (all three states
 *   have that edge); never republished. Its waiters are told through `notify` (see below).
 * - `PENDING` (recorded, never handed to the transport): claim `PENDING -> SENT`, attempt
 *   unchanged since nothing was delivered, then republish.
 * - `SENT` (a delivery that went quiet): `SENT -> FAILED_RETRYABLE` with `WEFT_DISPATCH_STALLED`,
 *   then `FAILED_RETRYABLE -> SENT` with `attempt + 1` (a true redelivery), then republish.
 * - `FAILED_RETRYABLE`: `FAILED_RETRYABLE -> SENT` with `attempt + 1`, then republish.
 *
 * A lost CAS (`ok: false`) means another instance or the runtime moved the record first: skip it.
 * A won CAS is a proof of ownership only if nothing happened between the scan and the claim; the
 * state-only CAS cannot see an A-B-A (`SENT`, redelivered by another instance, `SENT` again), so
 * every first claim also checks `transitionCount === r.transitionCount + 1`. If it is not, the
 * claim landed on a newer version: the reconciler puts the record back where it was (the reverse
 * legal edge, same attempt, no republish) and counts a lost race. Records a round has moved are no
 * longer idle, so later scans in the same round do not list them.
 *
 * Records ended `FAILED_FINAL` (deadline passed, attempts exhausted) are handed to `notify` after
 * the transition, so that a client's `result()` or a flow waiting for the item ends (a dead letter
 * and an error reply). A notice marker written before the transition and deleted after `notify`
 * makes this at-least-once across crashes: see {@link NOTICE_STEP_PREFIX}.
 *
 * Clocks: instances compare `updatedAtMs` with their own clock; keep clock skew well under `idleMs`.
 */
export class Reconciler {
  private readonly store: DispatchStore;
  private readonly republish: (records: DispatchRecord[]) => Promise<void>;
  private readonly notify: ((records: DispatchRecord[]) => Promise<void>) | undefined;
  private readonly idleMs: number;
  private readonly intervalMs: number;
  private readonly batch: number;
  private readonly maxAttempts: number | undefined;
  private readonly clock: () => number;
  private readonly logger: ReconcilerLogger | undefined;
  private readonly rounds = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(options: ReconcilerOptions) {
    if (typeof options !== 'object' || options === null) throw new DispatchArgumentError('Reconciler: options must be an object');
    if (typeof options.store !== 'object' || options.store === null) throw new DispatchArgumentError('Reconciler: store is required');
    if (typeof options.republish !== 'function') throw new DispatchArgumentError('Reconciler: republish must be a function');
    this.store = options.store;
    this.republish = options.republish;
    if (options.notify !== undefined && typeof options.notify !== 'function') throw new DispatchArgumentError('Reconciler: notify must be a function');
    this.notify = options.notify;
    this.idleMs = checkInt('idleMs', options.idleMs ?? RECONCILER_DEFAULTS.idleMs, 0, 2 ** 31 - 1);
    this.intervalMs = checkInt('intervalMs', options.intervalMs ?? RECONCILER_DEFAULTS.intervalMs, 1, 2 ** 31 - 1);
    this.batch = checkInt('batch', options.batch ?? RECONCILER_DEFAULTS.batch, 1, MAX_SCAN_LIMIT);
    this.maxAttempts = options.maxAttempts === undefined ? undefined : checkInt('maxAttempts', options.maxAttempts, 1, 1_000_000);
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger;
  }

  /** Runs one round over every idle record and reports what it did. */
  runOnce(): Promise<ReconcileStats> {
    const round = this.round();
    this.rounds.add(round);
    const forget = (): void => { this.rounds.delete(round); };
    round.then(forget, forget);
    return round;
  }

  /**
   * Runs a round now, then one `intervalMs` after each round ends. Timers are unref'd, so they
   * never keep the process alive. A failed round is logged and the loop goes on. Idempotent.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops the loop and waits for a round in progress to finish. Call {@link start} to resume. */
  async close(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.rounds]);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runOnce().then(
        (stats) => this.logger?.debug?.({ stats }, 'dispatch reconciler round done'),
        (err: unknown) => this.logger?.warn({ err }, 'dispatch reconciler round failed; retrying next interval'),
      ).finally(() => { if (this.running) this.schedule(this.intervalMs); });
    }, delayMs);
    this.timer.unref();
  }

  private async round(): Promise<ReconcileStats> {
    const stats: ReconcileStats = {
      scanned: 0, republished: 0, lostRaces: 0, expired: 0, exhausted: 0, republishFailed: 0, notified: 0, notifyFailed: 0,
    };
    const olderThanMs = Math.max(0, this.clock() - this.idleMs);
    let cursor: string | undefined;
    do {
      const page = await this.store.scan({
        states: NON_TERMINAL_STATES, olderThanMs, limit: this.batch, ...(cursor === undefined ? {} : { cursor }),
      });
      cursor = page.cursor;
      stats.scanned += page.records.length;
      const claims = await Promise.all(page.records.map((r) => this.claim(r)));
      const claimed: DispatchRecord[] = [];
      const finals: Final[] = [];
      for (const c of claims) {
        if (c.kind === 'claimed') claimed.push(c.record);
        else if (c.kind === 'lost') stats.lostRaces++;
        else if (c.kind === 'notice') {
          if (c.final) finals.push(c.final);
        } else {
          if (c.kind === 'expired') stats.expired++;
          else stats.exhausted++;
          finals.push(c.final);
        }
      }
      if (finals.length > 0) await this.tell(finals, stats);
      if (claimed.length > 0) {
        try {
          await this.republish(claimed);
          stats.republished += claimed.length;
        } catch (err) {
          stats.republishFailed += claimed.length;
          this.logger?.warn({ err, count: claimed.length },
            'dispatch reconciler: republish failed; the records stay SENT and a later round redelivers them');
        }
      }
    } while (cursor !== undefined);
    return stats;
  }

  /**
   * Tells the waiters of `finals`, then deletes their markers. If `notify` throws, the markers stay:
   * once idle, a later round (of any instance) lists them and notifies again.
   */
  private async tell(all: readonly Final[], stats: ReconcileStats): Promise<void> {
    if (!this.notify) return;
    // A stale marker and its record may both be in one page: tell the record's waiters once.
    const byKey = new Map<string, Final>();
    for (const f of all) {
      const k = formatDispatchKey(f.record);
      if (!byKey.has(k)) byKey.set(k, f);
    }
    const finals = [...byKey.values()];
    try {
      await this.notify(finals.map((f) => f.record));
      stats.notified += finals.length;
    } catch (err) {
      stats.notifyFailed += finals.length;
      this.logger?.warn({ err, count: finals.length },
        'dispatch reconciler: telling the waiters of failed records failed; a later round tells them again');
      return;
    }
    await Promise.all(finals.map((f) => f.marker && this.unmark(f.marker)));
  }

  /** Writes the notice marker of `r` (see {@link NOTICE_STEP_PREFIX}); `undefined` when there is no `notify` or no room for one. */
  private async mark(r: DispatchRecord): Promise<DispatchKey | undefined> {
    if (!this.notify) return undefined;
    const key = markerKeyOf(r);
    if (!key) return undefined;
    await this.store.create({
      ...key, correlationId: r.correlationId, envelope: {}, nowMs: this.clock(), ...(r.queue === undefined ? {} : { queue: r.queue }),
    });
    return key;
  }

  private async unmark(marker: DispatchKey): Promise<void> {
    try {
      await this.store.delete(marker);
    } catch (err) {
      this.logger?.warn({ err, key: formatDispatchKey(marker) }, 'dispatch reconciler: deleting a notice marker failed; its waiters may be told twice');
    }
  }

  /**
   * A notice marker left by a reconciler that stopped between ending a record `FAILED_FINAL` and
   * telling its waiters (or before the transition, or before deleting the marker). If the record is
   * `FAILED_FINAL`, its waiters are told (again, perhaps); otherwise the marker is dropped, and the
   * record, if still idle, is handled by the scan like any other.
   */
  private async recoverNotice(marker: DispatchRecord): Promise<Claim> {
    const key: DispatchKey = {
      executionId: marker.executionId, stepId: marker.stepId.slice(NOTICE_STEP_PREFIX.length), idempotencyKey: marker.idempotencyKey,
    };
    const record = key.stepId ? await this.store.get(key) : undefined;
    if (record?.state === DispatchState.FAILED_FINAL && this.notify) return { kind: 'notice', final: { record, marker } };
    await this.unmark(marker);
    return { kind: 'notice' };
  }

  /** Moves `r` to `FAILED_FINAL` with a notice marker written first; the marker is dropped when the CAS loses. */
  private async finish(r: DispatchRecord, from: DispatchState, error: DispatchFailure, kind: 'expired' | 'exhausted'): Promise<Claim> {
    const marker = await this.mark(r);
    const won = await this.move(r, { from, to: DispatchState.FAILED_FINAL, error });
    if (!won) {
      if (marker) await this.unmark(marker);
      return { kind: 'lost' };
    }
    return { kind, final: { record: won, ...(marker ? { marker } : {}) } };
  }

  /** One CAS; `undefined` when it lost. */
  private async move(r: DispatchRecord, change: Omit<DispatchTransition, 'nowMs'>): Promise<DispatchRecord | undefined> {
    const res = await this.store.transition(r, { ...change, nowMs: this.clock() });
    return res.ok ? res.record : undefined;
  }

  /** Whether `won` is the result of exactly one transition applied to the version `scanned`. */
  private static sameVersion(scanned: DispatchRecord, won: DispatchRecord): boolean {
    return won.transitionCount === scanned.transitionCount + 1;
  }

  private exhaustedAt(nextAttempt: number): boolean {
    return this.maxAttempts !== undefined && nextAttempt >= this.maxAttempts;
  }

  private async claim(r: DispatchRecord): Promise<Claim> {
    const { FAILED_RETRYABLE, PENDING, SENT } = DispatchState;
    if (r.stepId.startsWith(NOTICE_STEP_PREFIX)) return this.recoverNotice(r);
    if (isExpired(r.deadlineMs, this.clock())) {
      const error: DispatchFailure = {
        code: RuntimeErrorCode.DEADLINE_EXCEEDED,
        message: `the deadline ${new Date(r.deadlineMs!).toISOString()} passed before the item was recovered (it was ${r.state})`,
      };
      return this.finish(r, r.state, error, 'expired');
    }

    if (r.state === PENDING) {
      // Nothing returns to PENDING, so this CAS alone proves the scanned version was the one moved.
      const won = await this.move(r, { from: PENDING, to: SENT });
      return won ? { kind: 'claimed', record: won } : { kind: 'lost' };
    }

    let failed = r;
    if (r.state === SENT) {
      const error: DispatchFailure = {
        code: DispatchErrorCode.STALLED,
        message: `no progress for ${this.idleMs} ms after attempt ${r.attempt} was sent; redelivering`,
      };
      const won = await this.move(r, { from: SENT, to: FAILED_RETRYABLE, error });
      if (!won) return { kind: 'lost' };
      if (!Reconciler.sameVersion(r, won)) {
        // A-B-A: this was a newer SENT (another instance's redelivery, in flight). Put it back.
        await this.restore(won, { from: FAILED_RETRYABLE, to: SENT });
        return { kind: 'lost' };
      }
      failed = won;
    } else if (r.state !== FAILED_RETRYABLE) {
      return { kind: 'lost' }; // a store listed a terminal record: not ours to touch
    }

    const next = failed.attempt + 1;
    if (this.exhaustedAt(next)) {
      const error: DispatchFailure = {
        code: DispatchErrorCode.RETRIES_EXHAUSTED,
        message: `attempt ${failed.attempt} was the last of maxAttempts ${this.maxAttempts}`,
      };
      return this.finish(failed, FAILED_RETRYABLE, error, 'exhausted');
    }
    const won = await this.move(failed, { from: FAILED_RETRYABLE, to: SENT, attempt: next });
    if (!won) return { kind: 'lost' };
    if (!Reconciler.sameVersion(failed, won)) {
      // A-B-A: the record was redelivered and failed again since the scan. Put it back as it was.
      const previous = won.history.length >= 2 ? won.history[won.history.length - 2]!.attempt : failed.attempt;
      await this.restore(won, {
        from: SENT, to: FAILED_RETRYABLE, attempt: previous,
        error: won.lastError ?? { code: DispatchErrorCode.STALLED, message: 'restored by the dispatch reconciler' },
      });
      return { kind: 'lost' };
    }
    return { kind: 'claimed', record: won };
  }

  /** Undoes a claim that landed on a newer version than the scanned one. Never republishes. */
  private async restore(won: DispatchRecord, change: Omit<DispatchTransition, 'nowMs'>): Promise<void> {
    const back = await this.move(won, change);
    this.logger?.debug?.({ key: formatDispatchKey(won), restored: back !== undefined },
      'dispatch reconciler: claim landed on a newer version; put the record back');
  }
}
