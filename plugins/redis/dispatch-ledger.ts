import { DISPATCH_HISTORY_LIMIT, DispatchErrorCode, DispatchState, isDispatchState, redeliveryFields, sendFinalNotices } from '../../core/dispatch';
import type {
  DispatchFailure, DispatchKey, DispatchLedger, DispatchRecord, LedgerAck, LedgerFailure, LedgerItem, LedgerView,
  RedeliverStats, SendOutcome,
} from '../../core/dispatch';
import type { Fields } from '../../core/runtime/transport';
import { WireField } from '../../core/tasks/wire';
import { dispatchIndexKey, dispatchRecordKey, type RedisDispatchStore } from './dispatch-store';
import { COMPLETE, FAIL_FINAL, INSPECT, REDELIVER, RETRY, SEND, TOUCH_RECORDS } from './ledger-scripts';
import { deadLetterEntry, sharedNames, type RedisStreamsTransport, type ScriptCall } from './streams-transport';
import { deadLetterKey, streamKey } from './streams-keys';

/** The fields `SEND` builds the record from: refused before the call, since a script that fails halfway keeps what it wrote. */
const SEND_REQUIRED = [WireField.EXECUTION_ID, WireField.STEP_ID, WireField.IDEMPOTENCY_KEY, WireField.CORRELATION_ID];

/** Messages per `SEND` script call. */
const SEND_CHUNK = 250;

/** The delayed-retry set of a queue: `<prefix>:{<queue>}:delayed`, scored by due time. */
export function delayedKey(prefix: string, queue: string): string {
  return `${prefix}:{${queue}}:delayed`;
}

const text = (b: unknown): string => (b === null || b === undefined ? '' : Buffer.isBuffer(b) ? b.toString('utf8') : String(b));

/** `{state, attempt, result_bytes, result_schema_id, result_type, last_error, created_at_ms}` as a {@link LedgerView}. */
function viewOfReply(r: unknown): LedgerView | undefined {
  const [state, attempt, bytes, schemaId, type, lastError, createdAt] = r as (Buffer | null)[];
  const s = text(state);
  if (!isDispatchState(s)) return undefined;
  return {
    state: s, attempt: Number(text(attempt)) || 0,
    ...(createdAt ? { createdAtMs: Number(text(createdAt)) } : {}),
    ...(bytes && schemaId ? { result: { bytes: Buffer.from(bytes), schemaId: text(schemaId), type: text(type) } } : {}),
    ...(lastError ? { lastError: JSON.parse(text(lastError)) as DispatchFailure } : {}),
  };
}

/**
 * The Redis plugin's {@link DispatchLedger}: every record transition runs in the same Lua script as
 * the stream operation it belongs to, so there is no window between them for a crash to fall in.
 *
 * @remarks
 * - `send`: one `SEND` call per 250 messages (all in one pipeline) creates each record as `SENT`
 *   and adds the message, or, for a record that exists, adds nothing and returns its state.
 * - `inspect`: one `INSPECT` call for the whole batch.
 * - `complete`: one `COMPLETE` call per batch of acks: `ACKED` with results, result replies, `XACK`.
 *   An `ACKED` record drops its envelope (only redelivery needs it) and expires after the store's
 *   `retentionMs`.
 * - `fail`: one `RETRY` call (`FAILED_RETRYABLE`, scheduled in `<prefix>:{<queue>}:delayed`, acked)
 *   or one `FAIL_FINAL` call (`FAILED_FINAL`, dead letter, error reply, acked).
 * - `redeliverDue`: one `REDELIVER` call moves due retries back to `SENT` and re-adds them.
 *
 * Cost: on top of the transport's own calls, durable dispatch adds one `INSPECT` round trip per
 * batch a worker reads; the other transitions ride in calls the transport makes anyway.
 *
 * Redis Cluster: records are hash-tagged by execution id, streams by queue, so these scripts touch
 * several slots; the ledger needs a single Redis (or Sentinel), like the dispatch store.
 */
export class RedisDispatchLedger implements DispatchLedger {
  readonly name = 'redis';
  private readonly prefix: string;
  private readonly indexKey: string;

  constructor(private readonly transport: RedisStreamsTransport, private readonly store: RedisDispatchStore) {
    if (transport.prefix !== store.prefix) {
      throw new TypeError(`RedisDispatchLedger: the transport's prefix ${transport.prefix} and the store's ${store.prefix} differ`);
    }
    this.prefix = store.prefix;
    this.indexKey = dispatchIndexKey(this.prefix);
  }

  private recordKey(key: DispatchKey): string {
    return dispatchRecordKey(this.prefix, key);
  }

  /** {@inheritDoc DispatchLedger.send} */
  async send(queue: string, items: readonly LedgerItem[], nowMs: number): Promise<SendOutcome[]> {
    if (items.length === 0) return [];
    const stream = streamKey(this.prefix, queue);
    const names = sharedNames(items.map((i) => i.fields));
    if (!names) throw new TypeError('RedisDispatchLedger.send: every message of a batch must have the same fields in the same order');
    for (const required of SEND_REQUIRED) {
      if (!names.includes(required)) throw new TypeError(`RedisDispatchLedger.send: messages need a '${required}' field (the wire contract's dispatch metadata)`);
    }
    const maxLen = this.transport.maxLen;
    const calls: ScriptCall[] = [];
    for (let i = 0; i < items.length; i += SEND_CHUNK) {
      const end = Math.min(items.length, i + SEND_CHUNK);
      const keys = [stream, this.indexKey];
      for (let m = i; m < end; m++) keys.push(this.recordKey(items[m]!.key));
      calls.push({
        keys, argc: 4 + names.length + names.length * (end - i), sizeHint: 512 + (end - i) * 640,
        write(w) {
          w.bulk(maxLen);
          w.bulk(nowMs);
          w.bulk(queue);
          w.bulk(names.length);
          for (const n of names) w.bulk(n);
          for (let m = i; m < end; m++) {
            const f: Fields = items[m]!.fields;
            for (const n of names) w.bulk(f[n]!);
          }
        },
      });
    }
    const out: SendOutcome[] = [];
    for (const reply of await this.transport.runScriptCalls(SEND, calls)) {
      for (const r of reply as unknown[]) {
        if (r === 1) {
          out.push({ sent: true });
          continue;
        }
        const view = viewOfReply(r);
        if (!view) throw new Error(`RedisDispatchLedger.send: a record of queue ${queue} exists but is unreadable; nothing was published for it`);
        out.push({ sent: false, record: view });
      }
    }
    return out;
  }

  /** {@inheritDoc DispatchLedger.inspect} */
  async inspect(keys: readonly DispatchKey[]): Promise<(LedgerView | undefined)[]> {
    if (keys.length === 0) return [];
    const recordKeys = keys.map((k) => this.recordKey(k));
    const [reply] = await this.transport.runScriptCalls(INSPECT, [{
      keys: recordKeys, argc: 0, sizeHint: 64 + recordKeys.length * 96, write() { /* keys only */ },
    }]);
    return (reply as unknown[]).map(viewOfReply);
  }

  /** {@inheritDoc DispatchLedger.complete} */
  async complete(queue: string, group: string, acks: readonly LedgerAck[], nowMs: number): Promise<void> {
    if (acks.length === 0) return;
    const keys = [streamKey(this.prefix, queue), this.indexKey];
    const index = new Map<string, number>();
    const slot = (k: string): number => {
      let i = index.get(k);
      if (i === undefined) {
        keys.push(k);
        index.set(k, (i = keys.length));
      }
      return i;
    };
    const at: { record: number; reply: number }[] = [];
    const follows: { at: number; f: Fields; n: number }[] = [];
    let argc = 6 + acks.length * 9;
    for (const a of acks) {
      at.push({
        record: a.key ? slot(this.recordKey(a.key)) : 0,
        reply: a.reply && a.result ? slot(streamKey(this.prefix, a.reply.queue)) : 0,
      });
      if (a.follow) {
        let n = 0;
        for (const _ in a.follow.fields) n++;
        follows.push({ at: slot(streamKey(this.prefix, a.follow.queue)), f: a.follow.fields, n });
        argc += 2 + 2 * n;
      }
    }
    const { maxLen } = this.transport;
    const retention = this.store.retentionMs;
    await this.transport.runScriptCalls(COMPLETE, [{
      keys, argc, sizeHint: 256 + acks.length * 256,
      write(w) {
        w.bulk(group);
        w.bulk(maxLen);
        w.bulk(nowMs);
        w.bulk(DISPATCH_HISTORY_LIMIT);
        w.bulk(retention);
        w.bulk(acks.length);
        for (const a of acks) w.bulk(a.deliveryId);
        for (let i = 0; i < acks.length; i++) {
          const a = acks[i]!;
          const r = a.result;
          w.bulk(at[i]!.record);
          w.bulk(r ? r.bytes : '');
          w.bulk(r ? r.schemaId : '');
          w.bulk(r ? r.type : '');
          w.bulk(at[i]!.reply);
          w.bulk(a.reply ? a.reply.executionId : '');
          w.bulk(a.reply ? a.reply.idempotencyKey : '');
          w.bulk(a.attempt ?? '');
        }
        for (const { at: fi, f, n } of follows) {
          w.bulk(fi);
          w.bulk(n);
          for (const name in f) {
            w.bulk(name);
            w.bulk(f[name]!);
          }
        }
      },
    }]);
  }

  /** {@inheritDoc DispatchLedger.fail} */
  async fail(queue: string, group: string, f: LedgerFailure, nowMs: number): Promise<void> {
    const stream = streamKey(this.prefix, queue);
    const err = JSON.stringify(f.error);
    if (f.retry && f.key) {
      const envelope: (string | Buffer)[] = [];
      for (const [k, v] of Object.entries(f.delivery.fields)) envelope.push(Buffer.isBuffer(v) ? `e:b:${k}` : `e:s:${k}`, v);
      const [done] = await this.transport.runScriptCalls(RETRY, [call(
        [stream, this.indexKey, this.recordKey(f.key), delayedKey(this.prefix, queue)],
        [group, f.delivery.id, nowMs, DISPATCH_HISTORY_LIMIT, err, f.retry.notBeforeMs, f.retry.attempt, f.attempt ?? '', ...envelope],
      )]);
      if (Number(done) >= 0) return;
      // No record to schedule the retry on: dead-letter it below rather than lose it.
    }
    const entry = deadLetterEntry(f.delivery, f.deadLetter, nowMs);
    const flat: (string | Buffer)[] = [];
    for (const [k, v] of Object.entries(entry)) flat.push(k, v);
    const follow: (string | Buffer)[] = [];
    if (f.follow) for (const [k, v] of Object.entries(f.follow.fields)) follow.push(k, v);
    const keys = [stream, this.indexKey, deadLetterKey(this.prefix, queue), f.key ? this.recordKey(f.key) : stream];
    if (f.follow) keys.push(streamKey(this.prefix, f.follow.queue));
    await this.transport.runScriptCalls(FAIL_FINAL, [call(keys, [
      group, f.delivery.id, nowMs, DISPATCH_HISTORY_LIMIT, err, this.store.retentionMs, this.transport.deadLetterMaxLen,
      this.transport.maxLen, f.key ? '1' : '0', f.attempt ?? '', flat.length / 2, ...flat, follow.length / 2, ...follow,
    ])]);
  }

  /** {@inheritDoc DispatchLedger.redeliverDue} */
  async redeliverDue(queue: string, nowMs: number, limit: number): Promise<RedeliverStats> {
    const [reply] = await this.transport.runScriptCalls(REDELIVER, [call(
      [streamKey(this.prefix, queue), this.indexKey, delayedKey(this.prefix, queue)],
      [nowMs, limit, this.transport.maxLen, DISPATCH_HISTORY_LIMIT],
    )]);
    const [sent, next] = reply as [number, Buffer | null];
    return { redelivered: Number(sent), ...(next ? { nextDueMs: Number(text(next)) } : {}) };
  }

  /** {@inheritDoc DispatchLedger.touch} One `TOUCH_RECORDS` call. */
  async touch(keys: readonly DispatchKey[], nowMs: number): Promise<void> {
    if (keys.length === 0) return;
    await this.transport.runScriptCalls(TOUCH_RECORDS, [call([this.indexKey, ...keys.map((k) => this.recordKey(k))], [nowMs])]);
  }

  /**
   * {@inheritDoc DispatchLedger.notifyFinal}
   *
   * @remarks
   * A record this ledger sent keeps the stream entry's id, not a copy of the message: the entry is
   * read back (`XRANGE`) for the dead letter and its `reply_to`. An entry already trimmed from the
   * stream leaves nothing to send (the reply queue is not stored in the record, to keep `SEND` at
   * its cost), so that item's waiter is not told.
   */
  async notifyFinal(records: readonly DispatchRecord[], nowMs: number): Promise<void> {
    await sendFinalNotices(this.transport, records, nowMs, (r) => this.messageOf(r));
  }

  /**
   * A record's message: its envelope copy, or (a record this ledger sent keeps the entry's id, not
   * a copy) the stream entry read back; `undefined` when the entry is gone.
   */
  private async messageOf(r: DispatchRecord): Promise<Fields | undefined> {
    if (Object.keys(r.envelope).length > 0) return r.envelope;
    return r.queue && r.messageId ? this.transport.entry(r.queue, r.messageId) : undefined;
  }

  /** {@inheritDoc DispatchLedger.republish} The entries to read back are read concurrently. */
  async republish(records: readonly DispatchRecord[]): Promise<void> {
    for (const r of records) {
      if (!r.queue) throw new Error(`dispatch record ${r.idempotencyKey} has no queue; it was not created by the Weft runtime`);
    }
    const sent = records.filter((r) => r.state === DispatchState.SENT);
    const messages = await Promise.all(sent.map((r) => this.messageOf(r)));
    const byQueue = new Map<string, Fields[]>();
    const now = Date.now();
    await Promise.all(sent.map(async (r, i) => {
      const envelope = messages[i];
      if (!envelope) {
        // Nothing of the message is left, so neither a dead letter nor an error reply can be sent:
        // the reply queue was in the entry. See docs/dispatch.md, "Telling the waiters".
        await this.store.transition(r, { from: DispatchState.SENT, to: DispatchState.FAILED_FINAL, nowMs: now, error: {
          code: DispatchErrorCode.ENVELOPE_LOST,
          message: `the stream entry ${r.messageId ?? '(unknown)'} of queue ${r.queue} is gone (trimmed by MAXLEN?), so the item cannot be redelivered`,
        } });
        return;
      }
      const list = byQueue.get(r.queue!) ?? [];
      list.push(redeliveryFields({ ...r, envelope }, now, true));
      byQueue.set(r.queue!, list);
    }));
    await Promise.all([...byQueue].map(([q, fields]) => this.transport.publish(q, fields)));
  }
}

/** A script call with the given keys and arguments. */
function call(keys: string[], args: readonly (string | number | Buffer)[]): ScriptCall {
  return {
    keys, argc: args.length, sizeHint: 256 + args.reduce<number>((n, a) => n + (Buffer.isBuffer(a) ? a.length : String(a).length) + 16, 0),
    write(w) {
      for (const a of args) w.bulk(a);
    },
  };
}
