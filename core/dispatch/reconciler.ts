/**
 * Crash recovery: a loop that finds dispatch records left idle in a non-terminal state and
 * re-enqueues them, coordinated between any number of instances by the store's CAS alone.
 *
 * @packageDocumentation
 */
import { RuntimeErrorCode } from '../runtime/errors';
import { isExpired } from './deadline';
import { DispatchArgumentError, DispatchErrorCode } from './errors';
import { describeValue, formatDispatchKey } from './key';
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
}

/** Defaults of {@link ReconcilerOptions}. */
export const RECONCILER_DEFAULTS = Object.freeze({ idleMs: 30_000, intervalMs: 5_000, batch: 100 });

type Claim =
  | { readonly kind: 'claimed'; readonly record: DispatchRecord }
  | { readonly kind: 'lost' | 'expired' | 'exhausted' };

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
 *   have that edge); never republished.
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
 * Clocks: instances compare `updatedAtMs` with their own clock; keep clock skew well under `idleMs`.
 */
export class Reconciler {
  private readonly store: DispatchStore;
  private readonly republish: (records: DispatchRecord[]) => Promise<void>;
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
    const stats: ReconcileStats = { scanned: 0, republished: 0, lostRaces: 0, expired: 0, exhausted: 0, republishFailed: 0 };
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
      for (const c of claims) {
        if (c.kind === 'claimed') claimed.push(c.record);
        else if (c.kind === 'lost') stats.lostRaces++;
        else if (c.kind === 'expired') stats.expired++;
        else stats.exhausted++;
      }
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
    const { FAILED_FINAL, FAILED_RETRYABLE, PENDING, SENT } = DispatchState;
    if (isExpired(r.deadlineMs, this.clock())) {
      const error: DispatchFailure = {
        code: RuntimeErrorCode.DEADLINE_EXCEEDED,
        message: `the deadline ${new Date(r.deadlineMs!).toISOString()} passed before the item was recovered (it was ${r.state})`,
      };
      return (await this.move(r, { from: r.state, to: FAILED_FINAL, error })) ? { kind: 'expired' } : { kind: 'lost' };
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
      return (await this.move(failed, { from: FAILED_RETRYABLE, to: FAILED_FINAL, error })) ? { kind: 'exhausted' } : { kind: 'lost' };
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
