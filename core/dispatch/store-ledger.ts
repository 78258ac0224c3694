/**
 * {@link StoreLedger}: the dispatch ledger of any `DispatchStore` paired with any `Transport`.
 *
 * @packageDocumentation
 */
import { WireField } from '../tasks/wire';
import { ReplyField, resultReply } from '../runtime/reply';
import type { Fields, Outgoing, Transport } from '../runtime/transport';
import type { DispatchKey } from './key';
import { viewOf, type DispatchLedger, type LedgerAck, type LedgerFailure, type LedgerItem, type LedgerView, type RedeliverStats, type SendOutcome } from './ledger';
import { DispatchState } from './state';
import { sendFinalNotices } from './final-notice';
import type { DispatchRecord, DispatchStore, DispatchTransition, TransitionDispatchResult } from './store';

interface Scheduled { readonly key: DispatchKey; readonly attempt: number; readonly dueMs: number }

/** Options of {@link StoreLedger}. */
export interface StoreLedgerOptions {
  /**
   * Fault-injection seams for crash tests: awaited between the steps of `send`, so a test can kill
   * the process inside a gap (`afterCreate`: records written, nothing published; `afterPublish`:
   * published, records still `PENDING`). Leave unset in production.
   */
  readonly pauses?: { readonly afterCreate?: () => Promise<void>; readonly afterPublish?: () => Promise<void> };
}

/** Most scheduled retries a {@link StoreLedger} keeps per queue before it leaves the rest to the reconciler. */
export const STORE_LEDGER_MAX_SCHEDULED = 100_000;

/**
 * A {@link DispatchLedger} made of separate store and transport calls, for transports that cannot
 * change a record and a queue in one atomic step (memory, HTTP, gRPC).
 *
 * @remarks
 * Each operation keeps the ledger's ordering rules, so a crash between two calls leaves a record
 * that the reconciler recovers: a `PENDING` record whose message may or may not have been
 * published, or a `SENT` one whose delivery was not acknowledged. A duplicate message that such a
 * recovery may cause is caught by the worker's check of the record before it runs a task.
 *
 * Retries are scheduled in this process (a crash forgets the schedule; the reconciler then
 * redelivers the `FAILED_RETRYABLE` record once it is idle past its threshold).
 */
export class StoreLedger implements DispatchLedger {
  readonly name: string;
  private readonly scheduled = new Map<string, Scheduled[]>();

  constructor(private readonly store: DispatchStore, private readonly transport: Transport, private readonly options: StoreLedgerOptions = {}) {
    this.name = `${store.name}+${transport.name}`;
  }

  /** {@inheritDoc DispatchLedger.send} */
  async send(queue: string, items: readonly LedgerItem[], nowMs: number): Promise<SendOutcome[]> {
    const created = await Promise.all(items.map((i) => this.store.create({
      ...i.key, correlationId: i.correlationId, envelope: i.fields, queue, nowMs,
      ...(i.deadlineMs === undefined ? {} : { deadlineMs: i.deadlineMs }),
    })));
    const fresh = items.filter((_, n) => created[n]!.created);
    if (fresh.length > 0) {
      await this.options.pauses?.afterCreate?.();
      await this.transport.publish(queue, fresh.map((i) => i.fields));
      await this.options.pauses?.afterPublish?.();
      await Promise.all(fresh.map((i) => this.store.transition(i.key, { from: DispatchState.PENDING, to: DispatchState.SENT, nowMs })));
    }
    return created.map((c): SendOutcome => (c.created ? { sent: true } : { sent: false, record: viewOf(c.record) }));
  }

  /** {@inheritDoc DispatchLedger.inspect} */
  async inspect(keys: readonly DispatchKey[]): Promise<(LedgerView | undefined)[]> {
    const records = await Promise.all(keys.map((k) => this.store.get(k)));
    return records.map((r) => r && viewOf(r));
  }

  /** {@inheritDoc DispatchLedger.complete} */
  async complete(queue: string, group: string, acks: readonly LedgerAck[], nowMs: number): Promise<void> {
    await Promise.all(acks.map((a) => a.key && this.move(a.key, {
      from: DispatchState.SENT, to: DispatchState.ACKED, nowMs, ...(a.result ? { result: a.result } : {}),
      ...(a.attempt === undefined ? {} : { attempt: a.attempt }),
    })));
    const follow: Outgoing[] = [];
    for (const a of acks) {
      if (a.reply && a.result) {
        const { queue: q, executionId, idempotencyKey } = a.reply;
        follow.push({ queue: q, fields: resultReply(executionId, idempotencyKey, a.result.schemaId, a.result.type, a.result.bytes) });
      }
      if (a.follow) follow.push(a.follow);
    }
    await this.transport.ack(queue, group, acks.map((a) => a.deliveryId), follow);
  }

  /** {@inheritDoc DispatchLedger.fail} */
  async fail(queue: string, group: string, f: LedgerFailure, nowMs: number): Promise<void> {
    if (f.retry && f.key) {
      const res = await this.move(f.key, { from: DispatchState.SENT, to: DispatchState.FAILED_RETRYABLE, nowMs, error: f.error, ...(f.attempt === undefined ? {} : { attempt: f.attempt }) });
      if (res.ok) this.schedule(queue, { key: f.key, attempt: f.retry.attempt, dueMs: f.retry.notBeforeMs });
      // Not moved but present: another actor owns the record now (a duplicate delivery). Either way
      // this delivery is done; without a record, a retry could not be scheduled: dead-letter it.
      if (res.ok || res.current) {
        await this.transport.ack(queue, group, [f.delivery.id]);
        return;
      }
    }
    if (f.key) await this.move(f.key, { from: DispatchState.SENT, to: DispatchState.FAILED_FINAL, nowMs, error: f.error, ...(f.attempt === undefined ? {} : { attempt: f.attempt }) });
    const deadLetterId = await this.transport.deadLetter(queue, group, f.delivery, f.deadLetter);
    if (f.follow) await this.transport.publish(f.follow.queue, [withDeadLetterId(f.follow.fields, deadLetterId)]);
  }

  /** {@inheritDoc DispatchLedger.redeliverDue} */
  async redeliverDue(queue: string, nowMs: number, limit: number): Promise<RedeliverStats> {
    const list = this.scheduled.get(queue) ?? [];
    const due = list.filter((s) => s.dueMs <= nowMs).slice(0, limit);
    if (due.length > 0) {
      const taken = new Set(due);
      this.scheduled.set(queue, list.filter((s) => !taken.has(s)));
    }
    const out: Fields[] = [];
    for (const s of due) {
      const res = await this.store.transition(s.key, { from: DispatchState.FAILED_RETRYABLE, to: DispatchState.SENT, attempt: s.attempt, nowMs });
      if (res.ok) out.push(redeliveryFields(res.record, nowMs));
    }
    if (out.length > 0) await this.transport.publish(queue, out);
    const rest = this.scheduled.get(queue) ?? [];
    let nextDueMs = Infinity;
    for (const r of rest) if (r.dueMs < nextDueMs) nextDueMs = r.dueMs;
    return { redelivered: out.length, ...(rest.length ? { nextDueMs } : {}) };
  }

  /** {@inheritDoc DispatchLedger.republish} */
  async republish(records: readonly DispatchRecord[]): Promise<void> {
    const byQueue = new Map<string, Fields[]>();
    for (const r of records) {
      if (!r.queue) throw new Error(`dispatch record ${r.idempotencyKey} has no queue; it was not created by the Weft runtime`);
      // A record written by a ledger that keeps the message id instead of the envelope (Redis): this
      // ledger cannot read the message back, and the message is still queued; leave it to that ledger.
      if (Object.keys(r.envelope).length === 0) continue;
      const list = byQueue.get(r.queue) ?? [];
      list.push(redeliveryFields(r, Date.now(), true));
      byQueue.set(r.queue, list);
    }
    await Promise.all([...byQueue].map(([q, fields]) => this.transport.publish(q, fields)));
  }

  /** {@inheritDoc DispatchLedger.notifyFinal} The message is the record's stored envelope. */
  async notifyFinal(records: readonly DispatchRecord[], nowMs: number): Promise<void> {
    await sendFinalNotices(this.transport, records, nowMs, (r) => r.envelope);
  }

  /** Forgets the retry schedule (the reconciler redelivers what it held). */
  async close(): Promise<void> {
    this.scheduled.clear();
  }

  /**
   * One transition; a record still `PENDING` (its producer stopped between publishing and marking
   * it `SENT`) is first moved to `SENT`, since the delivery proves it was sent.
   */
  private async move(key: DispatchKey, change: DispatchTransition): Promise<TransitionDispatchResult> {
    let res = await this.store.transition(key, change);
    if (!res.ok && res.current?.state === DispatchState.PENDING && change.from === DispatchState.SENT) {
      await this.store.transition(key, { from: DispatchState.PENDING, to: DispatchState.SENT, nowMs: change.nowMs });
      res = await this.store.transition(key, change);
    }
    return res;
  }

  private schedule(queue: string, s: Scheduled): void {
    const list = this.scheduled.get(queue) ?? [];
    if (list.length < STORE_LEDGER_MAX_SCHEDULED) list.push(s);
    this.scheduled.set(queue, list);
  }
}

/**
 * A record's envelope as redelivered: the stored fields with the record's attempt and a new
 * dispatch time; with `recovered`, also the `recovered` flag (crash recovery: the message may
 * duplicate one still queued, so the worker checks the record before running it).
 */
export function redeliveryFields(r: DispatchRecord, nowMs: number, recovered = false): Fields {
  return {
    ...r.envelope, [WireField.RETRY_ATTEMPT]: String(r.attempt), [WireField.DISPATCH_TS_MS]: String(nowMs),
    ...(recovered ? { [WireField.RECOVERED]: '1' } : {}),
  };
}

/** An error reply with the id of the dead letter just written (when the transport gave one). */
function withDeadLetterId(fields: Fields, id: string | void): Fields {
  return id && fields[ReplyField.KIND] === 'error' ? { ...fields, [ReplyField.DEAD_LETTER_ID]: id } : fields;
}
