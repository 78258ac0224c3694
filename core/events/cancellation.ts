import type { Logger } from 'pino';
import type { Fields } from '../runtime/transport';
import type { EventLog, LoggedEvent } from './event-log';
import { EventLogArgumentError } from './errors';

/** The logical event stream cancellations are broadcast on. */
export const CONTROL_STREAM = 'control';
/** Retention of the control stream: about this many newest entries (`MAXLEN ~`). */
export const CONTROL_MAX_LEN = 10_000;
/** Most cancelled executions a {@link CancellationFeed} remembers by default (the newest). */
export const DEFAULT_REMEMBERED_CANCELLATIONS = 10_000;
/** Longest reason kept, characters. */
const MAX_REASON_LENGTH = 1000;

/** The field names of a control entry. */
export const ControlField = {
  /** `cancel`. Other kinds are ignored by readers that do not know them. */
  KIND: 'kind',
  EXECUTION_ID: 'execution_id',
  REASON: 'reason',
  /** Epoch ms, decimal. */
  AT_MS: 'at_ms',
} as const;

/** One cancelled execution. */
export interface Cancellation {
  readonly executionId: string;
  /** What the canceller said; may be empty. */
  readonly reason: string;
  /** When it was cancelled, epoch ms. */
  readonly atMs: number;
}

/** The entry fields of a cancellation. */
export function cancellationFields(c: Cancellation): Fields {
  return {
    [ControlField.KIND]: 'cancel',
    [ControlField.EXECUTION_ID]: c.executionId,
    [ControlField.REASON]: c.reason.length > MAX_REASON_LENGTH ? `${c.reason.slice(0, MAX_REASON_LENGTH)}…` : c.reason,
    [ControlField.AT_MS]: String(Math.trunc(c.atMs)),
  };
}

/** The cancellation an entry of the control stream holds, or `undefined` (another kind, malformed). Never throws. */
export function parseCancellation(logged: LoggedEvent): Cancellation | undefined {
  const f = logged.fields;
  const s = (v: unknown): string => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : '');
  if (s(f[ControlField.KIND]) !== 'cancel') return undefined;
  const executionId = s(f[ControlField.EXECUTION_ID]);
  if (!executionId) return undefined;
  const atMs = Number(s(f[ControlField.AT_MS]));
  return { executionId, reason: s(f[ControlField.REASON]), atMs: Number.isFinite(atMs) ? atMs : 0 };
}

/**
 * Broadcasts a cancellation: appends a `cancel` entry to the control stream (retention
 * {@link CONTROL_MAX_LEN}). Every worker's {@link CancellationFeed} picks it up.
 *
 * @throws EventLogArgumentError (`WEFT_EVENT_LOG_INVALID_ARGUMENT`) for an empty execution id.
 */
export async function broadcastCancellation(log: EventLog, executionId: string, reason = '', nowMs = Date.now()): Promise<Cancellation> {
  if (typeof executionId !== 'string' || executionId.length === 0) {
    throw new EventLogArgumentError(`cancel needs the execution id of a submitted task or flow (handle.executionId), got ${JSON.stringify(executionId)}`);
  }
  const c: Cancellation = { executionId, reason: String(reason ?? ''), atMs: nowMs };
  await log.append(CONTROL_STREAM, cancellationFields(c), { maxLen: CONTROL_MAX_LEN });
  return c;
}

/** Options of {@link CancellationFeed}. */
export interface CancellationFeedOptions {
  /** Warnings (a failing read) go here. */
  readonly logger?: Logger;
  /** Most cancelled executions remembered (the newest). Default 10,000. */
  readonly maxRemembered?: number;
  /** Longest blocking read of the control stream, ms. Default 1000. */
  readonly blockMs?: number;
}

/** Called once per cancelled execution the feed learns of. */
export type CancellationListener = (c: Cancellation) => void;

const PAGE = 1000;

/**
 * What this process knows of cancelled executions: follows the control stream of an event log
 * (from its start, then with blocking reads) and remembers a bounded set of cancelled execution
 * ids. Workers use it to abort running tasks and skip queued ones. The flow orchestrator does not
 * use it: `app.flows.cancel` broadcasts the cancellation with `app.cancel` (which workers learn
 * of through this feed) and sends a cancel message on the flows queue, on which an orchestrator
 * moves the execution to CANCELLED and stops dispatching its steps.
 *
 * @remarks
 * The read loop runs only while someone holds the feed ({@link acquire}, or a listener added with
 * {@link onCancel}); the last release stops it, and {@link close} stops it for good. A stopped loop
 * holds no timer and no connection. It picks up where it left off when acquired again.
 * {@link note} records a cancellation made in this process at once, without waiting for the read.
 *
 * @example
 * ```ts
 * const feed = new CancellationFeed(log);
 * const off = feed.onCancel((c) => console.log(`${c.executionId} cancelled: ${c.reason}`));
 * await feed.ready();
 * if (feed.isCancelled(executionId)) return;
 * off();
 * ```
 */
export class CancellationFeed {
  private readonly known = new Map<string, Cancellation>();
  private readonly listeners = new Set<CancellationListener>();
  private readonly maxRemembered: number;
  private readonly blockMs: number;
  private cursor = '0';
  private caughtUp = false;
  private readyWaiters: (() => void)[] = [];
  private holders = 0;
  private stop?: AbortController;
  private loop?: Promise<void>;
  private closed = false;

  constructor(private readonly log: EventLog, private readonly options: CancellationFeedOptions = {}) {
    this.maxRemembered = Math.max(1, options.maxRemembered ?? DEFAULT_REMEMBERED_CANCELLATIONS);
    this.blockMs = Math.max(1, options.blockMs ?? 1000);
  }

  /** `true` when `executionId` is known to be cancelled. */
  isCancelled(executionId: string): boolean {
    return this.known.size > 0 && this.known.has(executionId);
  }

  /** The cancellation of `executionId`, if known. */
  get(executionId: string): Cancellation | undefined {
    return this.known.get(executionId);
  }

  /** How many cancelled executions are remembered. */
  get size(): number {
    return this.known.size;
  }

  /** Records a cancellation (one made in this process, say) and tells the listeners if it is new. */
  note(c: Cancellation): void {
    if (this.known.has(c.executionId)) return;
    this.known.set(c.executionId, c);
    if (this.known.size > this.maxRemembered) this.known.delete(this.known.keys().next().value as string);
    for (const l of [...this.listeners]) {
      try {
        l(c);
      } catch (err) {
        this.options.logger?.warn({ err, executionId: c.executionId }, 'a cancellation listener threw');
      }
    }
  }

  /**
   * Calls `listener` for every cancellation learnt from now on, and keeps the read loop running
   * until the returned function is called.
   */
  onCancel(listener: CancellationListener): () => void {
    this.listeners.add(listener);
    const release = this.acquire();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.listeners.delete(listener);
      release();
    };
  }

  /** Keeps the read loop running until the returned function is called (once). */
  acquire(): () => void {
    if (this.closed) return () => undefined;
    this.holders++;
    if (!this.loop) this.start();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holders === 0) this.stop?.abort();
    };
  }

  /**
   * Resolves `true` once the feed has read the control stream up to its end (every cancellation
   * made before is known), or `false` when `timeoutMs` passes or the feed stops first. Acquire the
   * feed first: a feed that nobody holds does not read.
   */
  ready(timeoutMs = 5000): Promise<boolean> {
    if (this.caughtUp) return Promise.resolve(true);
    if (!this.loop) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.readyWaiters = this.readyWaiters.filter((w) => w !== wake);
        resolve(ok);
      };
      const wake = (): void => done(this.caughtUp);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.readyWaiters.push(wake);
    });
  }

  /** Stops the read loop for good and forgets the listeners. */
  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.stop?.abort();
    await this.loop;
  }

  private start(): void {
    const stop = new AbortController();
    this.stop = stop;
    this.loop = this.run(stop.signal).finally(() => {
      this.loop = undefined;
      for (const w of this.readyWaiters.splice(0)) w();
      // Acquired again while the loop was winding down: start a fresh one.
      if (this.holders > 0 && !this.closed) this.start();
    });
  }

  private async run(stop: AbortSignal): Promise<void> {
    let backoff = 100;
    while (!stop.aborted) {
      let batch: LoggedEvent[];
      try {
        const options = { count: PAGE, blockMs: this.caughtUp ? this.blockMs : 0, signal: stop };
        batch = await this.log.read(CONTROL_STREAM, this.cursor, options);
        backoff = 100;
      } catch (err) {
        if (stop.aborted) return;
        this.options.logger?.warn({ err }, 'reading the control stream failed; cancellations may arrive late. Retrying');
        await pause(backoff, stop);
        backoff = Math.min(backoff * 2, 5000);
        continue;
      }
      for (const e of batch) {
        this.cursor = e.id;
        const c = parseCancellation(e);
        if (c) this.note(c);
      }
      if (!this.caughtUp && batch.length < PAGE) {
        this.caughtUp = true;
        for (const w of this.readyWaiters.splice(0)) w();
      }
    }
  }
}

/** Waits `ms`, or less when `signal` fires; leaves no timer behind. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
