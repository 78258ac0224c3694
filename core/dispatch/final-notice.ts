/**
 * What the runtime tells the waiters of an item that recovery ended `FAILED_FINAL`: a dead letter
 * and an error reply, the same two things a worker sends for a final failure.
 *
 * @packageDocumentation
 */
import { RuntimeErrorCode } from '../runtime/errors';
import { errorReply, ReplyField } from '../runtime/reply';
import type { DeadLetterReason, Delivery, Fields, Outgoing, Transport } from '../runtime/transport';
import { WireField } from '../tasks/wire';
import { DEFAULT_WORKER_GROUP } from '../runtime/transport';
import { DispatchErrorCode } from './errors';
import { DispatchState } from './state';
import type { DispatchRecord } from './store';

/** The consumer group whose pending delivery of the item a recovery dead letter acknowledges: the workers' default. */
const FINAL_NOTICE_GROUP = DEFAULT_WORKER_GROUP;

/** The id a dead letter gets as its `originalId` when the record does not know its message's id. */
const UNKNOWN_MESSAGE_ID = '0-0';

/** A final failure's notice: the dead letter to write, and the error reply when the message names a `reply_to`. */
interface FinalNotice {
  readonly delivery: Delivery;
  readonly reason: DeadLetterReason;
  readonly reply?: Outgoing;
}

const text = (v: string | Buffer | undefined): string => (v === undefined ? '' : typeof v === 'string' ? v : v.toString('utf8'));

/** The `final_reason` detail of a dead letter, as the worker writes it (`deadline`, `exhausted`, ...). */
function finalReasonOf(code: string): string {
  if (code === RuntimeErrorCode.DEADLINE_EXCEEDED) return 'deadline';
  if (code === DispatchErrorCode.RETRIES_EXHAUSTED) return 'exhausted';
  return 'recovery';
}

/**
 * The notice of a `FAILED_FINAL` record whose message is `fields` (its stored envelope, or the
 * queue entry read back). The dead letter holds the message with `retry_attempt` set to the
 * record's attempt, so that a replay is the next attempt; the reply is an `errorReply` with the
 * record's `lastError`. `undefined` for a record that is not `FAILED_FINAL` or has no queue.
 */
function finalNoticeOf(r: DispatchRecord, fields: Fields, nowMs: number): FinalNotice | undefined {
  if (r.state !== DispatchState.FAILED_FINAL || !r.queue) return undefined;
  const code = r.lastError?.code ?? DispatchErrorCode.RETRIES_EXHAUSTED;
  const message = r.lastError?.message ?? 'the item failed during recovery';
  const details: Record<string, string> = {
    worker: 'reconciler', attempts: String(r.attempt + 1), final_reason: finalReasonOf(code), failed_at_ms: String(nowMs),
    first_dispatch_ts_ms: String(r.createdAtMs), execution_id: r.executionId, step_id: r.stepId, idempotency_key: r.idempotencyKey,
  };
  const task = text(fields[WireField.TASK]);
  if (task) details.task = task;
  const dispatchTs = text(fields[WireField.DISPATCH_TS_MS]);
  if (dispatchTs) details.dispatch_ts_ms = dispatchTs;
  const replyTo = text(fields[WireField.REPLY_TO]);
  return {
    delivery: { id: r.messageId ?? UNKNOWN_MESSAGE_ID, fields: { ...fields, [WireField.RETRY_ATTEMPT]: String(r.attempt) }, deliveryCount: 1 },
    reason: { code, message, details },
    ...(replyTo ? { reply: { queue: replyTo, fields: errorReply(r.executionId, r.idempotencyKey, code, message) } } : {}),
  };
}

/**
 * Sends the notice of each record that has a message (`messageOf` returns `undefined` when nothing
 * of it is left: then nothing can be sent). Dead letter first, then the error reply; records whose
 * message is gone are skipped. Used by the ledgers' `notifyFinal`.
 */
export async function sendFinalNotices(
  transport: Transport, records: readonly DispatchRecord[], nowMs: number,
  messageOf: (r: DispatchRecord) => Promise<Fields | undefined> | Fields | undefined,
): Promise<void> {
  const replies: Outgoing[] = [];
  await Promise.all(records.map(async (r) => {
    const fields = await messageOf(r);
    const notice = fields && Object.keys(fields).length > 0 ? finalNoticeOf(r, fields, nowMs) : undefined;
    if (!notice) return;
    const deadLetterId = await transport.deadLetter(r.queue!, FINAL_NOTICE_GROUP, notice.delivery, notice.reason);
    if (notice.reply) {
      replies.push(deadLetterId ? { ...notice.reply, fields: { ...notice.reply.fields, [ReplyField.DEAD_LETTER_ID]: deadLetterId } } : notice.reply);
    }
  }));
  const byQueue = new Map<string, Fields[]>();
  for (const o of replies) {
    const list = byQueue.get(o.queue) ?? [];
    list.push(o.fields);
    byQueue.set(o.queue, list);
  }
  await Promise.all([...byQueue].map(([q, list]) => transport.publish(q, list)));
}
