import { WeftError } from '../errors';

/**
 * The Transport port: how task messages move between producers and workers.
 *
 * @remarks
 * A transport moves flat field maps (see `core/tasks/wire.ts` for the field names of the wire
 * contract) through named queues with consumer-group semantics: each message of a queue goes to
 * one consumer of a group; it stays pending until acked; a pending message whose consumer stopped
 * working on it (idle past a visibility timeout) can be reclaimed by another consumer; what cannot
 * be processed goes to the queue's dead-letter stream with a reason. Delivery is at-least-once.
 *
 * What the contract does not cover: encoding (fields arrive as given), schemas, retries and
 * backoff (the runtime decides), ordering across consumers, and exactly-once effects (the dispatch
 * store handles duplicates).
 *
 * `core/testing` exports `transportConformance(factory)`: passing it is what "a working transport"
 * means.
 */
export interface Transport {
  /** A unique plugin name, e.g. `redis-streams`. */
  readonly name: string;
  /** Connects and prepares; called once by the bootstrap before any message moves. */
  init?(): Promise<void>;
  /** Releases what the transport created. Never closes a client the user passed in. */
  close(): Promise<void>;

  /**
   * Appends messages to a queue, in one round trip where the backend allows it.
   * @returns the message ids, in order.
   */
  publish(queue: string, messages: readonly Fields[]): Promise<string[]>;

  /**
   * Delivers up to `count` new messages of `queue` to `consumer` in `group`, creating the group
   * on demand (reading from the start of the queue). Waits up to `blockMs` when there are none, and
   * returns an empty list then. `close()` makes a blocked call return promptly.
   */
  consume(queue: string, options: ConsumeOptions): Promise<Delivery[]>;

  /**
   * Acknowledges deliveries, and publishes follow-up messages (such as results) in the same round
   * trip where the backend allows it.
   */
  ack(queue: string, group: string, ids: readonly string[], follow?: readonly Outgoing[]): Promise<void>;

  /**
   * Moves a delivery to the queue's dead-letter stream with its reason, then acks it. Resolves to
   * the dead letter's id when the transport knows it (the built-in ones do), so that whoever is
   * told of the failure can be given it.
   */
  deadLetter(queue: string, group: string, delivery: Delivery, reason: DeadLetterReason): Promise<string | void>;

  /**
   * Takes over up to `count` deliveries of `group` that have been pending longer than
   * `minIdleMs` (their consumer crashed or hung). Each returned delivery's `deliveryCount` is
   * incremented.
   */
  reclaim(queue: string, options: ReclaimOptions): Promise<Delivery[]>;

  /** Marks deliveries as still being worked on, so `reclaim` does not take them (heartbeat). */
  touch(queue: string, group: string, consumer: string, ids: readonly string[]): Promise<void>;

  /**
   * Reads dead letters of a queue, oldest first (for operators and tests): at most `count`
   * (default 100), and with `options.after` only those whose id comes after that id (exclusive),
   * so the last id of one page is the `after` of the next. An empty list means no more.
   */
  deadLetters(queue: string, count?: number, options?: DeadLettersOptions): Promise<DeadLetter[]>;

  /**
   * One dead letter of a queue by its id, or `undefined` when there is none with that id (also
   * for an id that is not well formed).
   *
   * @remarks
   * Optional: without it, `DeadLetters.inspect` pages through {@link Transport.deadLetters}.
   */
  findDeadLetter?(queue: string, id: string): Promise<DeadLetter | undefined>;

  /**
   * Deletes the dead letters of a queue with the given ids, in one round trip where the backend
   * allows it. Ids that do not exist (or are not well formed) are skipped.
   * @returns how many were deleted.
   */
  removeDeadLetters(queue: string, ids: readonly string[]): Promise<number>;

  /**
   * Deletes every dead letter of a queue, in one round trip where the backend allows it.
   * @returns how many were deleted.
   */
  purgeDeadLetters(queue: string): Promise<number>;

  /** Messages of `queue` not yet acknowledged by `group` (delivered or not), for backpressure and tests. */
  backlog(queue: string, group: string): Promise<number>;
}

/** A message as a flat map of field name to value. Binary values are Buffers. */
export type Fields = Readonly<Record<string, string | Buffer>>;

/** The consumer group workers read task queues with unless told otherwise (`WorkerOptions.group`). */
export const DEFAULT_WORKER_GROUP = 'weft';

/** A message to publish. */
export interface Outgoing {
  readonly queue: string;
  readonly fields: Fields;
}

/** One delivered message. */
export interface Delivery {
  /** The transport's id of the message (a stream entry id for Redis). */
  readonly id: string;
  readonly fields: Fields;
  /** How many times it has been delivered, this delivery included (1 on first delivery). */
  readonly deliveryCount: number;
}

/** Options of {@link Transport.consume}. */
export interface ConsumeOptions {
  readonly group: string;
  readonly consumer: string;
  /** Most messages to return. */
  readonly count: number;
  /** Longest wait when nothing is available, in ms. 0 = do not wait. */
  readonly blockMs: number;
  /**
   * Ids of earlier deliveries of this queue and group to acknowledge first, as {@link Transport.ack}
   * would, in the same round trip as the read where the backend allows (a consumer that acks a batch
   * and reads the next one saves a round trip). They are acknowledged even when the read then
   * returns nothing.
   */
  readonly ack?: readonly string[];
  /**
   * Also delete the entries `ack` acknowledges, and every older one, from the queue. Only for a
   * queue whose sole reader is this consumer and which it acknowledges in order, such as a client's
   * reply queue: the queue then holds only what is not read yet, instead of growing to its
   * retention limit.
   */
  readonly trimAcked?: boolean;
  /**
   * For a queue that should disappear once its only reader is gone (a client's reply queue): the
   * queue expires this many ms after the last read. Optional for a transport: one whose queues die
   * with the process (memory) ignores it.
   */
  readonly expireMs?: number;
}

/** Options of {@link Transport.reclaim}. */
export interface ReclaimOptions {
  readonly group: string;
  readonly consumer: string;
  readonly minIdleMs: number;
  readonly count: number;
}

/** Why a message was dead-lettered. */
export interface DeadLetterReason {
  /** A WeftError code, e.g. `WEFT_SCHEMA_NOT_FOUND`. */
  readonly code: string;
  readonly message: string;
  /** Extra diagnostics (attempts, worker id, stack...), flat strings. */
  readonly details?: Readonly<Record<string, string>>;
}

/** Options of {@link Transport.deadLetters}. */
export interface DeadLettersOptions {
  /** Only dead letters whose id comes after this one (exclusive): the last id of the previous page. */
  readonly after?: string;
}

/** A dead-lettered message: the original fields plus the reason. */
export interface DeadLetter {
  readonly id: string;
  /** The id the message had in its queue. */
  readonly originalId: string;
  readonly fields: Fields;
  readonly reason: DeadLetterReason;
  /** When it was dead-lettered, epoch ms. */
  readonly atMs: number;
}

/** A transport operation failed (connection lost, server error). Retryable unless stated. */
export class TransportError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WEFT_TRANSPORT_ERROR', message, options);
  }
}
