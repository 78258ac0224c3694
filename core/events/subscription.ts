import type { EventLog, LoggedEvent } from './event-log';
import { checkEntryId, EventLogArgumentError } from './errors';
import { eventsStream, isTerminalWorkflowEvent, parseWorkflowEvent, type WorkflowEvent } from './workflow-events';

/** Options of `app.subscribe` / {@link subscribeWorkflowEvents}. */
export interface SubscribeOptions {
  /** Ends the subscription when it fires (the iteration then ends normally). */
  readonly signal?: AbortSignal;
  /** Start after this entry id instead of from the first event (a reconnecting subscriber's last `event.id`). */
  readonly afterId?: string;
  /** Longest blocking read, ms. Default 5000. Breaking out of the loop ends a read at once either way. */
  readonly blockMs?: number;
  /** Most events fetched per read. Default 100. */
  readonly count?: number;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The events of one execution, as an async iterator: from the first event (or after
 * `options.afterId`), in order, waiting for new ones with blocking reads, until a terminal event
 * (`workflow_completed`, `workflow_failed`, `workflow_cancelled`: yielded, then the iteration ends),
 * the consumer stops (`break`, `return()`), or `options.signal` fires.
 *
 * @remarks
 * Each subscription keeps its own cursor: any number may follow one execution, each sees every
 * event. Entries that are not workflow events are skipped. When the iteration ends, the read in
 * progress is aborted (on Redis its connection is closed), so nothing is left running: no timer, no
 * connection. A failing read ends the iteration with its error.
 *
 * @example
 * ```ts
 * for await (const ev of subscribeWorkflowEvents(log, handle.executionId)) {
 *   if (ev.kind === 'progress') console.log(`${ev.step}: ${ev.percent}% ${ev.message ?? ''}`);
 * }
 * ```
 */
export class WorkflowSubscription implements AsyncIterableIterator<WorkflowEvent> {
  private cursor: string;
  private readonly stream: string;
  private readonly buffer: WorkflowEvent[] = [];
  private finished = false;
  private readonly stop = new AbortController();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly blockMs: number;
  private readonly count: number;
  private readonly onAbort = (): void => this.finish();

  constructor(private readonly log: EventLog, readonly executionId: string, private readonly options: SubscribeOptions = {}) {
    if (typeof executionId !== 'string' || executionId.length === 0) {
      throw new EventLogArgumentError(`subscribe needs the execution id of a submitted task or flow (handle.executionId), got ${JSON.stringify(executionId)}`);
    }
    this.stream = eventsStream(executionId);
    this.cursor = options.afterId ?? '0';
    checkEntryId(this.cursor);
    this.blockMs = options.blockMs ?? 5000;
    this.count = options.count ?? 100;
    if (options.signal?.aborted) this.finished = true;
    else options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The id of the last event read (the `afterId` to resume from). */
  get lastId(): string {
    return this.cursor;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next event; `done` once the execution ended or the subscription was stopped. */
  next(): Promise<IteratorResult<WorkflowEvent>> {
    const p = this.chain.then(() => this.pull());
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Stops the subscription: the read in progress is aborted and the iteration ends. */
  async return(): Promise<IteratorResult<WorkflowEvent>> {
    this.finish();
    return DONE;
  }

  /** Stops the subscription, like {@link return}. */
  async throw(e?: unknown): Promise<IteratorResult<WorkflowEvent>> {
    this.finish();
    if (e !== undefined) throw e;
    return DONE;
  }

  private async pull(): Promise<IteratorResult<WorkflowEvent>> {
    for (;;) {
      const ev = this.buffer.shift();
      if (ev) {
        if (isTerminalWorkflowEvent(ev.kind)) this.finish();
        return { done: false, value: ev };
      }
      if (this.finished) return DONE;
      let batch: LoggedEvent[];
      try {
        const options = { count: this.count, blockMs: this.blockMs, signal: this.stop.signal };
        batch = await this.log.read(this.stream, this.cursor, options);
      } catch (e) {
        if (this.finished) return DONE;
        this.finish();
        throw e;
      }
      if (this.finished) return DONE;
      for (const e of batch) {
        this.cursor = e.id;
        const parsed = parseWorkflowEvent(e);
        if (parsed) this.buffer.push(parsed);
      }
    }
  }

  private finish(): void {
    if (this.finished && this.stop.signal.aborted) return;
    this.finished = true;
    this.buffer.length = 0;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.stop.abort();
  }
}

/** Subscribes to the events of one execution; see {@link WorkflowSubscription}. */
export function subscribeWorkflowEvents(log: EventLog, executionId: string, options?: SubscribeOptions): WorkflowSubscription {
  return new WorkflowSubscription(log, executionId, options);
}
