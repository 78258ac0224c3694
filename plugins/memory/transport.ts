import {
  TransportError,
  type ConsumeOptions,
  type DeadLetter,
  type DeadLetterReason,
  type DeadLettersOptions,
  type Delivery,
  type Fields,
  type Outgoing,
  type ReclaimOptions,
  type Transport,
} from '../../core/runtime/transport';

/** Options of {@link MemoryTransport}. */
export interface MemoryTransportOptions {
  /**
   * Retention bound of every queue, in messages (like Redis `XADD ... MAXLEN`). When a queue holds
   * more, its oldest messages that every group has received and acknowledged are dropped until it
   * holds `maxLen` again. Messages that some group has not received or not acknowledged are never
   * dropped, so a queue may stay above the bound while work is outstanding (and a queue that no
   * group has ever read keeps everything). Unset: unbounded.
   */
  readonly maxLen?: number;
  /** Per-queue overrides of {@link MemoryTransportOptions.maxLen}, by queue name. */
  readonly queueMaxLen?: Readonly<Record<string, number>>;
  /** Most dead letters kept per queue; the oldest are dropped beyond it. Unset: unbounded. */
  readonly maxDeadLetters?: number;
  /** The clock, epoch ms. Defaults to `Date.now`; tests may pass a fake one. */
  readonly now?: () => number;
}

interface Entry {
  /** Position in the queue: 0, 1, 2... in publish order. */
  readonly n: number;
  readonly id: string;
  readonly fields: Fields;
}

interface PendingEntry {
  readonly entry: Entry;
  consumer: string;
  deliveryCount: number;
  lastDeliveryMs: number;
}

interface Group {
  /** `n` of the last message delivered to the group; new messages are those after it. */
  cursor: number;
  /** Messages retained and not yet delivered to the group. */
  undelivered: number;
  /** The pending entries list, in id order (first deliveries happen in id order; later ones update in place). */
  readonly pending: Map<string, PendingEntry>;
}

interface Waiter {
  readonly group: string;
  readonly consumer: string;
  readonly count: number;
  readonly resolve: (d: Delivery[]) => void;
  timer?: NodeJS.Timeout;
}

class IdClock {
  private lastMs = 0;
  private seq = 0;
  next(now: number): string {
    if (now > this.lastMs) {
      this.lastMs = now;
      this.seq = 0;
    } else {
      this.seq++;
    }
    return `${this.lastMs}-${this.seq}`;
  }
}

interface QueueState {
  /** Retained messages, sorted by `n`; `entries[head..]` is live. */
  entries: Entry[];
  head: number;
  nextN: number;
  readonly byId: Map<string, Entry>;
  readonly groups: Map<string, Group>;
  readonly ids: IdClock;
  readonly dead: DeadLetter[];
  readonly deadIds: IdClock;
  readonly waiters: Waiter[];
}

/** Whether an entry is settled: delivered to every group of the queue and pending in none. */
function settledIn(q: QueueState): (e: Entry) => boolean {
  let minCursor = Infinity;
  for (const g of q.groups.values()) minCursor = Math.min(minCursor, g.cursor);
  return (e) => {
    if (e.n > minCursor) return false;
    for (const g of q.groups.values()) if (g.pending.has(e.id)) return false;
    return true;
  };
}

/**
 * An in-process {@link Transport}: the embedded default, for one machine and for tests.
 *
 * @remarks
 * It has the semantics of Redis Streams consumer groups:
 * - ids are `<ms>-<seq>`, strictly increasing per queue even if the clock goes back;
 * - each group has a last-delivered cursor (a new group starts at the oldest retained message)
 *   and a pending entries list recording, per delivered message, its consumer, delivery count and
 *   last delivery time;
 * - `reclaim` hands over pending messages idle for at least `minIdleMs`, in id order, incrementing
 *   their delivery count (like `XAUTOCLAIM`); `touch` resets the idle time of messages the
 *   consumer owns without counting a delivery;
 * - `ack` settles messages per group; `deadLetter` copies the message with its reason to the
 *   queue's dead-letter list, then acks it;
 * - `consume` with `blockMs` waits for new messages; waiters are served in arrival order, and
 *   `close()` resolves every waiter with `[]` and clears its timer, so no timer outlives it.
 *
 * Buffers are copied on publish and on delivery, so no caller can change a stored message. Like
 * Redis, a message needs at least one field. Retention: see {@link MemoryTransportOptions.maxLen}.
 * Nothing is persisted, and nothing is shared between processes. After `close()` every other
 * method rejects with a `TransportError`.
 */
export class MemoryTransport implements Transport {
  /** Always `memory`. */
  readonly name = 'memory';
  private readonly queues = new Map<string, QueueState>();
  private readonly now: () => number;
  private closed = false;

  /** @param options - Retention bounds and an optional clock; see {@link MemoryTransportOptions}. */
  constructor(private readonly options: MemoryTransportOptions = {}) {
    this.now = options.now ?? Date.now;
    for (const [what, v] of [['maxLen', options.maxLen], ['maxDeadLetters', options.maxDeadLetters], ...Object.entries(options.queueMaxLen ?? {})] as const) {
      if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) throw new TransportError(`memory transport: ${what} must be a non-negative integer, got ${String(v)}`);
    }
  }

  /** Resolves every waiting `consume` with `[]` and clears its timer. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queues.values()) {
      for (const w of q.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.resolve([]);
      }
    }
  }

  /** {@inheritDoc Transport.publish} */
  async publish(queue: string, messages: readonly Fields[]): Promise<string[]> {
    this.open();
    const copies = messages.map((m) => copyFields(m, true));
    return this.append(queue, copies);
  }

  /** {@inheritDoc Transport.consume} */
  consume(queue: string, options: ConsumeOptions): Promise<Delivery[]> {
    this.open();
    const { group, consumer, count, blockMs } = options;
    if (!(count > 0)) return Promise.reject(new TransportError(`consume: count must be positive, got ${count}`));
    const q = this.queue(queue);
    const g = this.group(q, group);
    if (options.ack?.length) {
      for (const id of options.ack) g.pending.delete(id);
      if (options.trimAcked) this.dropUpTo(q, options.ack);
      this.trim(queue, q);
    }
    const got = this.deliver(q, g, consumer, count);
    if (got.length > 0 || !(blockMs > 0)) return Promise.resolve(got);
    return new Promise((resolve) => {
      const w: Waiter = { group, consumer, count, resolve };
      w.timer = setTimeout(() => {
        const i = q.waiters.indexOf(w);
        if (i >= 0) q.waiters.splice(i, 1);
        resolve([]);
      }, blockMs);
      q.waiters.push(w);
    });
  }

  /** {@inheritDoc Transport.ack} */
  async ack(queue: string, group: string, ids: readonly string[], follow: readonly Outgoing[] = []): Promise<void> {
    this.open();
    const copies = follow.map((o) => ({ queue: o.queue, fields: copyFields(o.fields, true) }));
    const q = this.queues.get(queue);
    const g = q?.groups.get(group);
    if (q && g) {
      for (const id of ids) g.pending.delete(id);
      this.trim(queue, q);
    }
    for (const o of copies) this.append(o.queue, [o.fields]);
  }

  /** {@inheritDoc Transport.deadLetter} */
  async deadLetter(queue: string, group: string, delivery: Delivery, reason: DeadLetterReason): Promise<string> {
    this.open();
    const q = this.queue(queue);
    const stored = q.byId.get(delivery.id);
    const details = reason.details && { ...reason.details };
    const now = this.now();
    const id = q.deadIds.next(now);
    q.dead.push(Object.freeze({
      id,
      originalId: delivery.id,
      fields: stored ? stored.fields : copyFields(delivery.fields, false),
      reason: Object.freeze({ code: reason.code, message: reason.message, ...(details && { details: Object.freeze(details) }) }),
      atMs: now,
    }));
    const max = this.options.maxDeadLetters;
    if (max !== undefined && q.dead.length > max) q.dead.splice(0, q.dead.length - max);
    await this.ack(queue, group, [delivery.id]);
    return id;
  }

  /** {@inheritDoc Transport.reclaim} */
  async reclaim(queue: string, options: ReclaimOptions): Promise<Delivery[]> {
    this.open();
    const g = this.queues.get(queue)?.groups.get(options.group);
    if (!g) return [];
    const now = this.now();
    const out: Delivery[] = [];
    for (const p of g.pending.values()) {
      if (out.length >= options.count) break;
      if (now - p.lastDeliveryMs < options.minIdleMs) continue;
      p.consumer = options.consumer;
      p.deliveryCount++;
      p.lastDeliveryMs = now;
      out.push(toDelivery(p));
    }
    return out;
  }

  /** {@inheritDoc Transport.touch} Only messages that `consumer` owns are touched. */
  async touch(queue: string, group: string, consumer: string, ids: readonly string[]): Promise<void> {
    this.open();
    const g = this.queues.get(queue)?.groups.get(group);
    if (!g) return;
    const now = this.now();
    for (const id of ids) {
      const p = g.pending.get(id);
      if (p && p.consumer === consumer) p.lastDeliveryMs = now;
    }
  }

  /** {@inheritDoc Transport.deadLetters} Returns at most `count` (default 100), oldest first. */
  async deadLetters(queue: string, count = 100, options: DeadLettersOptions = {}): Promise<DeadLetter[]> {
    this.open();
    const dead = this.queues.get(queue)?.dead ?? [];
    let start = 0;
    if (options.after !== undefined) {
      const after = parseId(options.after);
      if (!after) throw new TransportError(`deadLetters: after must be an id like 1700000000000-0, got ${JSON.stringify(options.after)}`);
      while (start < dead.length && compareIds(parseId(dead[start].id)!, after) <= 0) start++;
    }
    return dead.slice(start, start + Math.max(0, count)).map(copyDeadLetter);
  }

  /** {@inheritDoc Transport.findDeadLetter} */
  async findDeadLetter(queue: string, id: string): Promise<DeadLetter | undefined> {
    this.open();
    const found = this.queues.get(queue)?.dead.find((d) => d.id === id);
    return found && copyDeadLetter(found);
  }

  /** {@inheritDoc Transport.removeDeadLetters} */
  async removeDeadLetters(queue: string, ids: readonly string[]): Promise<number> {
    this.open();
    const dead = this.queues.get(queue)?.dead;
    if (!dead || ids.length === 0) return 0;
    const remove = new Set(ids);
    let removed = 0;
    for (let i = dead.length - 1; i >= 0; i--) {
      if (remove.has(dead[i].id)) {
        dead.splice(i, 1);
        removed++;
      }
    }
    return removed;
  }

  /** {@inheritDoc Transport.purgeDeadLetters} */
  async purgeDeadLetters(queue: string): Promise<number> {
    this.open();
    const dead = this.queues.get(queue)?.dead;
    return dead ? dead.splice(0).length : 0;
  }

  /** {@inheritDoc Transport.backlog} For a group that has not consumed yet: every retained message. */
  async backlog(queue: string, group: string): Promise<number> {
    this.open();
    const q = this.queues.get(queue);
    if (!q) return 0;
    const g = q.groups.get(group);
    return g ? g.pending.size + g.undelivered : q.entries.length - q.head;
  }

  /** Messages currently retained in `queue` (acked or not): what Redis `XLEN` would answer. */
  length(queue: string): number {
    const q = this.queues.get(queue);
    return q ? q.entries.length - q.head : 0;
  }

  private open(): void {
    if (this.closed) throw new TransportError('memory transport is closed');
  }

  private queue(name: string): QueueState {
    let q = this.queues.get(name);
    if (!q) {
      if (typeof name !== 'string' || name === '') throw new TransportError('a queue name must be a non-empty string');
      q = { entries: [], head: 0, nextN: 0, byId: new Map(), groups: new Map(), ids: new IdClock(), dead: [], deadIds: new IdClock(), waiters: [] };
      this.queues.set(name, q);
    }
    return q;
  }

  private group(q: QueueState, name: string): Group {
    let g = q.groups.get(name);
    if (!g) {
      const first = q.entries[q.head];
      g = { cursor: first ? first.n - 1 : q.nextN - 1, undelivered: q.entries.length - q.head, pending: new Map() };
      q.groups.set(name, g);
    }
    return g;
  }

  /** Appends already-copied messages, wakes waiters, trims. */
  private append(queue: string, messages: readonly Fields[]): string[] {
    if (messages.length === 0) return [];
    const q = this.queue(queue);
    const ids: string[] = [];
    for (const fields of messages) {
      const entry: Entry = { n: q.nextN++, id: q.ids.next(this.now()), fields };
      q.entries.push(entry);
      q.byId.set(entry.id, entry);
      ids.push(entry.id);
    }
    for (const g of q.groups.values()) g.undelivered += messages.length;
    this.wake(q);
    this.trim(queue, q);
    return ids;
  }

  /** Serves waiting consumers in arrival order while their groups have new messages. */
  private wake(q: QueueState): void {
    for (let i = 0; i < q.waiters.length;) {
      const w = q.waiters[i];
      const got = this.deliver(q, this.group(q, w.group), w.consumer, w.count);
      if (got.length === 0) {
        i++;
        continue;
      }
      q.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(got);
    }
  }

  /** Moves up to `count` new messages of the group to its pending list, owned by `consumer`. */
  private deliver(q: QueueState, g: Group, consumer: string, count: number): Delivery[] {
    if (g.undelivered === 0) return [];
    const now = this.now();
    const out: Delivery[] = [];
    for (let i = this.firstAfter(q, g.cursor); i < q.entries.length && out.length < count; i++) {
      const entry = q.entries[i];
      const p: PendingEntry = { entry, consumer, deliveryCount: 1, lastDeliveryMs: now };
      g.pending.set(entry.id, p);
      g.cursor = entry.n;
      g.undelivered--;
      out.push(toDelivery(p));
    }
    return out;
  }

  /** Index in `entries` of the first retained message with `n > cursor`. */
  private firstAfter(q: QueueState, cursor: number): number {
    let lo = q.head;
    let hi = q.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (q.entries[mid].n <= cursor) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Drops the oldest messages every group has received and acked, while the queue is over its bound. */
  /** Drops every retained entry up to the newest of `ids` (`trimAcked`: the reader owns the queue). */
  private dropUpTo(q: QueueState, ids: readonly string[]): void {
    let last = -1;
    for (const id of ids) {
      const e = q.byId.get(id);
      if (e && e.n > last) last = e.n;
    }
    // Never an entry another group has not settled: their counts stay right even if misused.
    const settled = settledIn(q);
    while (q.head < q.entries.length && q.entries[q.head].n <= last && settled(q.entries[q.head])) {
      q.byId.delete(q.entries[q.head].id);
      q.head++;
    }
    if (q.head > 1024 && q.head * 2 > q.entries.length) {
      q.entries = q.entries.slice(q.head);
      q.head = 0;
    }
  }

  private trim(name: string, q: QueueState): void {
    const max = this.options.queueMaxLen?.[name] ?? this.options.maxLen;
    if (max === undefined || q.groups.size === 0) return;
    let excess = q.entries.length - q.head - max;
    if (excess <= 0) return;
    const settled = settledIn(q);
    // Fast path: the oldest messages are settled (acks mostly come in order).
    while (excess > 0 && q.head < q.entries.length && settled(q.entries[q.head])) {
      q.byId.delete(q.entries[q.head].id);
      q.head++;
      excess--;
    }
    if (excess > 0) {
      // Some old message is still pending: drop settled ones behind it.
      const keep: Entry[] = [];
      for (let i = q.head; i < q.entries.length; i++) {
        const e = q.entries[i];
        if (excess > 0 && settled(e)) {
          q.byId.delete(e.id);
          excess--;
        } else {
          keep.push(e);
        }
      }
      q.entries = keep;
      q.head = 0;
    } else if (q.head > 1024 && q.head * 2 > q.entries.length) {
      q.entries = q.entries.slice(q.head);
      q.head = 0;
    }
  }
}

function copyDeadLetter(d: DeadLetter): DeadLetter {
  return { ...d, fields: copyFields(d.fields, false) };
}

/** `<ms>-<seq>` as two numbers; `undefined` when malformed. */
function parseId(id: string): [number, number] | undefined {
  const m = /^(\d+)-(\d+)$/.exec(id);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function compareIds(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

function toDelivery(p: PendingEntry): Delivery {
  return { id: p.entry.id, fields: copyFields(p.entry.fields, false), deliveryCount: p.deliveryCount };
}

/** A frozen copy of a field map, with every binary value copied into a Buffer of its own. */
function copyFields(fields: Fields, validate: boolean): Fields {
  const out: Record<string, string | Buffer> = {};
  let n = 0;
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') out[k] = v;
    else if (v instanceof Uint8Array) out[k] = Buffer.from(v); // copies, for Buffers and plain Uint8Arrays alike
    else throw new TransportError(`field '${k}' must be a string or a Buffer, got ${v === null ? 'null' : typeof v}`);
    n++;
  }
  if (validate && n === 0) throw new TransportError('a message needs at least one field');
  return Object.freeze(out);
}
