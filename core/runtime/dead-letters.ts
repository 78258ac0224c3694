import { WeftError } from '../errors';
import { ProtoJsonDecoder } from '../schema/proto-json';
import { ENVELOPE_INVALID_CODE, WireField } from '../tasks/wire';
import { codeOf, messageOf } from './errors';
import type { DeadLetter, Fields, Transport } from './transport';
import type { DispatchStore } from '../dispatch/store';
import { DispatchState } from '../dispatch/state';
import { dispatchKeyOf } from './worker';
import { fromFields } from '../tasks/wire';

/** The code of {@link DeadLetterNotFoundError}. */
export const DEAD_LETTER_NOT_FOUND = 'WEFT_DEAD_LETTER_NOT_FOUND';

/** No dead letter of the queue has the given id (it was replayed, purged, trimmed, or never existed). */
export class DeadLetterNotFoundError extends WeftError {
  constructor(readonly queue: string, readonly id: string) {
    super(DEAD_LETTER_NOT_FOUND,
      `queue ${queue} has no dead letter ${id}: it was replayed, purged or trimmed, or the id is wrong. ` +
      `List the ids with deadLetters.list(${JSON.stringify(queue)}).`);
  }
}

/** What {@link DeadLetters} needs. `Weft` passes its transport and schema registry. */
export interface DeadLettersDeps {
  readonly transport: Transport;
  /** Resolves a schema id to its stored `FileDescriptorProto` bytes (a `SchemaRegistry` fits). */
  readonly schemas: { resolve(id: string): Promise<{ readonly bytes: Uint8Array }> };
  /** Epoch ms, for the `dispatch_ts_ms` of replays. Default `Date.now`. */
  readonly clock?: () => number;
  /**
   * The dispatch store: a replay moves the item's record `FAILED_FINAL -> SENT` with the new
   * attempt before publishing, so the worker runs it instead of answering with the stored failure.
   */
  readonly store?: DispatchStore;
}

/** One dead letter at a glance. Empty strings where the message lacked the field. */
export interface DeadLetterSummary {
  /** The dead letter's id: what `inspect`, `replay` and `purge` take. */
  readonly id: string;
  /** The id the message had in its queue. */
  readonly originalId: string;
  /** The wire `task` field, e.g. `shop.charge@1`. */
  readonly task: string;
  readonly executionId: string;
  readonly idempotencyKey: string;
  readonly correlationId: string;
  /** The `retry_attempt` of the dead-lettered message (0 for the first attempt, or when unreadable). */
  readonly attempt: number;
  /** Why it was dead-lettered: a Weft error code or the task error's own code. */
  readonly code: string;
  readonly message: string;
  /** When it was dead-lettered, epoch ms. */
  readonly atMs: number;
}

/** The decoded payload, or why it could not be decoded. Tell them apart with `'error' in payload`. */
export type InspectedPayload =
  | { /** The wire `type`: the payload's root message. */ readonly type: string; /** ProtoJSON of the payload. */ readonly json: unknown }
  | { readonly error: { readonly code: string; readonly message: string } };

/** Everything about one dead letter. */
export interface DeadLetterDetail {
  readonly summary: DeadLetterSummary;
  /** Every field of the message but `payload`, as strings (wire names: `schema_id`, `retry_attempt`...). */
  readonly envelope: Readonly<Record<string, string>>;
  /**
   * The payload decoded with its schema from the registry, as ProtoJSON (int64 as strings, dates as
   * RFC 3339 strings, maps as objects, bytes as base64); `{ error }` when it cannot be decoded.
   */
  readonly payload: InspectedPayload;
  /** The reason's details as the worker wrote them: `worker`, `delivery_count`, `stack`... */
  readonly diagnostics: Readonly<Record<string, string>>;
}

/** Options of {@link DeadLetters.list}. */
export interface ListDeadLettersOptions {
  /** Most summaries returned. Default 100. */
  readonly count?: number;
  /** Only dead letters after this id (exclusive): the last id of the previous page. */
  readonly after?: string;
}

/** Options of {@link DeadLetters.replay}. */
export interface ReplayOptions {
  /** Start again at `retry_attempt` 0 instead of the dead letter's attempt + 1. Default false. */
  readonly resetAttempt?: boolean;
}

/** Page size when `inspect` or `replay` must search a transport without `findDeadLetter`. */
const SCAN_PAGE = 500;

/**
 * The dead-letter API: list, inspect, replay and purge the messages a queue's workers gave up on.
 * `app.deadLetters` is one, over the app's transport and schema registry.
 *
 * @remarks
 * Nothing here needs the task classes: payloads are decoded with the schema stored in the
 * registry, so an admin process with only the connection details can inspect any queue.
 *
 * Replay is at-least-once. It publishes the message again, then deletes the dead letter; a crash
 * between the two leaves both (a later replay of the same dead letter publishes a duplicate, which
 * the idempotency key lets a dedupe step recognise), never neither.
 *
 * @example
 * ```ts
 * for (const dl of await app.deadLetters.list('orders')) console.log(dl.id, dl.task, dl.code, dl.message);
 * const { payload, diagnostics } = await app.deadLetters.inspect('orders', id);
 * // ... fix the cause (deploy the task, fix the bug), then:
 * const messageId = await app.deadLetters.replay('orders', id);
 * await app.deadLetters.purge('orders'); // drop the rest
 * ```
 */
export class DeadLetters {
  private readonly decoder = new ProtoJsonDecoder();
  private readonly clock: () => number;

  constructor(private readonly deps: DeadLettersDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  /** Summaries of a queue's dead letters, oldest first; page with `after` (the last id seen). */
  async list(queue: string, options: ListDeadLettersOptions = {}): Promise<DeadLetterSummary[]> {
    const dead = await this.deps.transport.deadLetters(queue, options.count ?? 100, options.after === undefined ? undefined : { after: options.after });
    return dead.map(summaryOf);
  }

  /**
   * One dead letter in full: its metadata, its payload decoded to JSON, and its diagnostics. Never
   * throws because of the payload: an unknown schema or corrupt bytes give `payload.error`.
   * @throws DeadLetterNotFoundError (`WEFT_DEAD_LETTER_NOT_FOUND`) when the queue has no such dead letter.
   */
  async inspect(queue: string, id: string): Promise<DeadLetterDetail> {
    const dl = await this.get(queue, id);
    const envelope: Record<string, string> = {};
    for (const [k, v] of Object.entries(dl.fields)) if (k !== WireField.PAYLOAD) envelope[k] = text(v);
    return { summary: summaryOf(dl), envelope, payload: await this.decode(dl.fields), diagnostics: { ...dl.reason.details } };
  }

  /**
   * Publishes the dead-lettered message to its queue again, as a new attempt of the same work: the
   * same fields (`idempotency_key`, `execution_id`, `correlation_id`, payload...), `retry_attempt`
   * + 1 (or 0 with `resetAttempt`), a fresh `dispatch_ts_ms`. Then deletes the dead letter.
   *
   * @remarks
   * The item's dispatch record (when the app has a dispatch store) goes `FAILED_FINAL -> SENT`
   * first, with the new attempt. Publish next, delete last: a crash in between leaves the dead letter in place as well, so
   * the message may run twice but is never lost. The original `deadline_ms` is kept; a message whose
   * deadline has passed is dead-lettered again with `WEFT_DEADLINE_EXCEEDED`. A waiting client has
   * already received the failure, so the replay's result reaches no `result()`.
   * @returns the new message id in the queue.
   * @throws DeadLetterNotFoundError (`WEFT_DEAD_LETTER_NOT_FOUND`) when the queue has no such dead letter.
   */
  async replay(queue: string, id: string, options: ReplayOptions = {}): Promise<string> {
    const dl = await this.get(queue, id);
    const fields: Record<string, string | Buffer> = {};
    for (const [k, v] of Object.entries(dl.fields)) if (!k.startsWith('dlq_')) fields[k] = v;
    fields[WireField.RETRY_ATTEMPT] = String(options.resetAttempt ? 0 : attemptOf(dl.fields) + 1);
    const nowMs = this.clock();
    fields[WireField.DISPATCH_TS_MS] = String(nowMs);
    await this.reopen(fields, nowMs);
    const [messageId] = await this.deps.transport.publish(queue, [fields]);
    await this.deps.transport.removeDeadLetters(queue, [id]);
    return messageId!;
  }

  /** Moves the item's dispatch record back to `SENT` for a replay (a record in another state is left alone). */
  private async reopen(fields: Fields, nowMs: number): Promise<void> {
    if (!this.deps.store) return;
    let key;
    try {
      key = dispatchKeyOf(fromFields(fields));
    } catch {
      return; // an unreadable envelope has no record
    }
    if (!key) return;
    await this.deps.store.transition(key, {
      from: DispatchState.FAILED_FINAL, to: DispatchState.SENT, nowMs, attempt: Number(fields[WireField.RETRY_ATTEMPT]),
    });
  }

  /**
   * Deletes the given dead letters of a queue, or all of them when `ids` is omitted.
   * @returns how many were deleted (ids that are not there count for nothing).
   */
  async purge(queue: string, ids?: readonly string[]): Promise<number> {
    return ids === undefined ? this.deps.transport.purgeDeadLetters(queue) : this.deps.transport.removeDeadLetters(queue, ids);
  }

  private async get(queue: string, id: string): Promise<DeadLetter> {
    const t = this.deps.transport;
    const found = t.findDeadLetter ? await t.findDeadLetter(queue, id) : await this.scan(queue, id);
    if (!found) throw new DeadLetterNotFoundError(queue, id);
    return found;
  }

  /** Pages through the dead letters for a transport without `findDeadLetter`. */
  private async scan(queue: string, id: string): Promise<DeadLetter | undefined> {
    let after: string | undefined;
    for (;;) {
      const page = await this.deps.transport.deadLetters(queue, SCAN_PAGE, after === undefined ? undefined : { after });
      const hit = page.find((d) => d.id === id);
      if (hit || page.length < SCAN_PAGE) return hit;
      after = page[page.length - 1]!.id;
    }
  }

  private async decode(fields: Fields): Promise<InspectedPayload> {
    const schemaId = text(fields[WireField.SCHEMA_ID]);
    const type = text(fields[WireField.TYPE]);
    const payload = fields[WireField.PAYLOAD];
    if (!schemaId || !type || payload === undefined) {
      return { error: { code: ENVELOPE_INVALID_CODE, message: "the message lacks 'schema_id', 'type' or 'payload'" } };
    }
    try {
      const schema = await this.deps.schemas.resolve(schemaId);
      const bytes = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
      return { type, json: this.decoder.decode(schemaId, schema.bytes, type, bytes) };
    } catch (e) {
      return { error: { code: codeOf(e, 'WEFT_DECODE_ERROR'), message: messageOf(e) } };
    }
  }
}

function text(v: string | Buffer | undefined): string {
  return v === undefined ? '' : typeof v === 'string' ? v : v.toString('utf8');
}

function attemptOf(fields: Fields): number {
  const n = Number(text(fields[WireField.RETRY_ATTEMPT]));
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

function summaryOf(dl: DeadLetter): DeadLetterSummary {
  const f = dl.fields;
  return {
    id: dl.id,
    originalId: dl.originalId,
    task: text(f[WireField.TASK]),
    executionId: text(f[WireField.EXECUTION_ID]),
    idempotencyKey: text(f[WireField.IDEMPOTENCY_KEY]),
    correlationId: text(f[WireField.CORRELATION_ID]),
    attempt: attemptOf(f),
    code: dl.reason.code,
    message: dl.reason.message,
    atMs: dl.atMs,
  };
}
