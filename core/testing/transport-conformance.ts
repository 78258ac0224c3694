import assert from 'node:assert/strict';
import { text } from './assertions';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeadLetterReason, Delivery, Fields, Transport } from '../runtime/transport';

/** What a conformance factory hands back: a ready transport and a way to release it. */
export interface TransportFixture {
  /**
   * A transport that is ready to use: if it has `init()`, the factory has already called it.
   * The suite calls `close()` itself on fixtures it closes on purpose, so `cleanup()` must
   * tolerate a transport that is already closed.
   */
  readonly transport: Transport;
  /**
   * Releases everything the fixture created (the transport, clients, servers, keys). After it
   * resolves nothing of the fixture may keep the Node.js event loop alive.
   */
  cleanup(): Promise<void>;
}

/** Makes a fresh {@link TransportFixture}. Called once for the shared transport and once per test that closes one. */
export type TransportFactory = () => Promise<TransportFixture>;

/** Tunables of {@link transportConformance}. Every default keeps one run under a few seconds. */
export interface TransportConformanceOptions {
  /** `blockMs` of the consume calls that are expected to wait and time out. Default 150. */
  readonly blockMs?: number;
  /** `minIdleMs` of the reclaim tests: how long a message must sit idle to count as abandoned. Default 100. */
  readonly minIdleMs?: number;
  /** Longest time a call may take to count as returning "promptly" (after a publish, after close). Default 1000. */
  readonly promptMs?: number;
  /** Mocha timeout of each test, in ms. Default 5000. */
  readonly timeoutMs?: number;
  /**
   * Prefix of every queue name the suite uses. Each test makes its own unique queues under it,
   * so the suite may share a backend with other data. Default `conformance`.
   */
  readonly queuePrefix?: string;
}

let queueCounter = 0;

/**
 * Registers a mocha suite that proves a {@link Transport} behaves as core expects: publish,
 * consume and ack; consumer-group semantics; blocking consume; redelivery after a crash
 * (`reclaim`, `touch`); follow-up messages on ack; dead letters (paging, lookup, removal, purge);
 * backpressure; and `close()`.
 * Passing it is what "a working transport" means.
 *
 * @remarks
 * Call it at the top level of a mocha test file (it uses mocha's global `describe`, `it`,
 * `before` and `after`). The suite creates one transport with `factory` for most tests and a
 * fresh one for each test that closes its transport; it releases each with `cleanup()`. Every
 * test uses queue names of its own, so leftovers of an earlier run do not matter.
 *
 * Field typing: a field published as a `Buffer` must be delivered as a `Buffer` with the same
 * bytes. A field published as a string may be delivered as a string or as a `Buffer` holding its
 * UTF-8 bytes (a backend such as Redis does not keep the difference).
 *
 * @example
 * ```ts
 * import { transportConformance } from 'weft/core/testing';
 * import { MyTransport } from '../src/my-transport';
 *
 * transportConformance('MyTransport', async () => {
 *   const transport = new MyTransport({ url: process.env.MY_URL });
 *   await transport.init();
 *   return { transport, cleanup: () => transport.close() };
 * });
 * ```
 *
 * @param name - Shown as the outer `describe` title.
 * @param factory - Makes a ready transport and its cleanup.
 * @param options - Timing and naming tunables; see {@link TransportConformanceOptions}.
 */
export function transportConformance(name: string, factory: TransportFactory, options: TransportConformanceOptions = {}): void {
  const blockMs = options.blockMs ?? 150;
  const minIdleMs = options.minIdleMs ?? 100;
  const promptMs = options.promptMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const prefix = options.queuePrefix ?? 'conformance';
  const runId = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  /** Comfortably longer than `minIdleMs`, for waits after which a message must count as idle. */
  const idleWait = minIdleMs + Math.max(30, Math.round(minIdleMs / 2));

  const queue = (label: string): string => `${prefix}.${runId}.${label}.${++queueCounter}`;

  describe(name, function () {
    this.timeout(timeoutMs);
    let fixture: TransportFixture | undefined;
    const t = (): Transport => {
      assert.ok(fixture, 'the transport factory failed; see the before-all hook');
      return fixture.transport;
    };

    before(async () => { fixture = await factory(); });
    after(async () => { await fixture?.cleanup(); });

    /** Consumes without waiting. */
    const take = (q: string, group: string, consumer: string, count = 100): Promise<Delivery[]> =>
      t().consume(q, { group, consumer, count, blockMs: 0 });

    /** Consumes until the queue gives nothing more (no waiting). */
    const drain = async (q: string, group: string, consumer: string, count = 100): Promise<Delivery[]> => {
      const out: Delivery[] = [];
      for (;;) {
        const got = await take(q, group, consumer, count);
        if (got.length === 0) return out;
        out.push(...got);
      }
    };

    describe('publish', () => {
      it('should return one distinct id per message, in the order consumers receive them', async () => {
        const q = queue('order');
        const first = await t().publish(q, [{ n: '1' }, { n: '2' }, { n: '3' }]);
        const second = await t().publish(q, [{ n: '4' }]);
        assert.equal(first.length, 3);
        assert.equal(second.length, 1);
        const ids = [...first, ...second];
        for (const id of ids) assert.equal(typeof id, 'string');
        assert.equal(new Set(ids).size, 4, 'ids must be distinct');
        const got = await drain(q, 'g', 'c1');
        assert.deepEqual(got.map((d) => d.id), ids);
        assert.deepEqual(got.map((d) => text(d.fields.n)), ['1', '2', '3', '4']);
        for (const d of got) assert.equal(d.deliveryCount, 1);
      });

      it('should return an empty list when given no messages', async () => {
        const q = queue('empty');
        assert.deepEqual(await t().publish(q, []), []);
        assert.equal(await t().backlog(q, 'g'), 0);
      });

      it('should deliver text and binary fields exactly as published', async () => {
        const q = queue('fields');
        const sent = sampleFields();
        const [id] = await t().publish(q, [sent]);
        const [d] = await take(q, 'g', 'c1');
        assert.ok(d, 'the message was not delivered');
        assert.equal(d.id, id);
        assertSameFields(d.fields, sent, 'delivered message');
      });

      it('should keep a stored message unchanged when the caller mutates its Buffer afterwards', async () => {
        const q = queue('copy');
        const payload = Buffer.from([1, 2, 3, 4]);
        await t().publish(q, [{ payload }]);
        payload.fill(0xee);
        const [d] = await take(q, 'g', 'c1');
        assert.ok(d);
        assertSameFields(d.fields, { payload: Buffer.from([1, 2, 3, 4]) }, 'delivered message');
      });
    });

    describe('consume', () => {
      it('should deliver messages published before the group existed', async () => {
        const q = queue('early');
        const ids = await t().publish(q, [{ n: 'a' }, { n: 'b' }]);
        const got = await take(q, 'late-group', 'c1');
        assert.deepEqual(got.map((d) => d.id), ids);
      });

      it('should never return more than count', async () => {
        const q = queue('count');
        const ids = await t().publish(q, [1, 2, 3, 4, 5].map((n) => ({ n: String(n) })));
        const a = await take(q, 'g', 'c1', 2);
        const b = await take(q, 'g', 'c1', 2);
        const c = await take(q, 'g', 'c1', 2);
        assert.deepEqual([a.length, b.length, c.length], [2, 2, 1]);
        assert.deepEqual([...a, ...b, ...c].map((d) => d.id), ids);
        assert.deepEqual(await take(q, 'g', 'c1', 2), []);
      });

      it('should give each message to exactly one consumer of a group', async () => {
        const q = queue('one-consumer');
        const ids = await t().publish(q, Array.from({ length: 10 }, (_, i) => ({ n: String(i) })));
        const seen: string[] = [];
        const byConsumer: Record<string, number> = { c1: 0, c2: 0 };
        for (let round = 0; round < 10; round++) {
          for (const c of ['c1', 'c2']) {
            const got = await take(q, 'g', c, 2);
            byConsumer[c] += got.length;
            seen.push(...got.map((d) => d.id));
          }
        }
        assert.deepEqual([...seen].sort(), [...ids].sort(), 'every message once, none twice');
        assert.equal(seen.length, 10);
        assert.ok(byConsumer.c1 > 0 && byConsumer.c2 > 0, 'both consumers got a share');
        // Pending (unacked) messages are not handed out again by consume.
        assert.deepEqual(await take(q, 'g', 'c3'), []);
      });

      it('should give every message to each of two groups', async () => {
        const q = queue('two-groups');
        const ids = await t().publish(q, [{ n: '1' }, { n: '2' }, { n: '3' }]);
        const g1 = await drain(q, 'g1', 'c1');
        const g2 = await drain(q, 'g2', 'c1');
        assert.deepEqual(g1.map((d) => d.id), ids);
        assert.deepEqual(g2.map((d) => d.id), ids);
        await t().ack(q, 'g1', ids);
        assert.equal(await t().backlog(q, 'g1'), 0);
        assert.equal(await t().backlog(q, 'g2'), 3, 'acking in one group does not ack in another');
      });

      it('should return at once with blockMs 0 when there is nothing to deliver', async () => {
        const q = queue('noblock');
        const started = Date.now();
        assert.deepEqual(await take(q, 'g', 'c1'), []);
        assert.ok(Date.now() - started < promptMs);
      });

      it('should return an empty list after about blockMs when nothing arrives', async () => {
        const q = queue('block-timeout');
        const started = Date.now();
        const got = await t().consume(q, { group: 'g', consumer: 'c1', count: 10, blockMs });
        const elapsed = Date.now() - started;
        assert.deepEqual(got, []);
        assert.ok(elapsed >= blockMs * 0.8 - 10, `returned after ${elapsed} ms, before blockMs ${blockMs}`);
        assert.ok(elapsed < blockMs + promptMs, `returned after ${elapsed} ms, long after blockMs ${blockMs}`);
      });

      it('should return promptly when a message arrives while it waits', async () => {
        const q = queue('block-wake');
        await take(q, 'g', 'c1'); // the group exists before the wait starts
        const waiting = t().consume(q, { group: 'g', consumer: 'c1', count: 10, blockMs: Math.max(3000, blockMs * 10) });
        await sleep(50);
        const published = Date.now();
        const [id] = await t().publish(q, [{ n: 'wake' }]);
        const got = await waiting;
        const elapsed = Date.now() - published;
        assert.deepEqual(got.map((d) => d.id), [id]);
        assert.ok(elapsed < promptMs, `woke ${elapsed} ms after the publish`);
      });

      it('should hand a message that arrives to only one of two waiting consumers of a group', async () => {
        const q = queue('block-two');
        await take(q, 'g', 'c0');
        const wait = blockMs * 4;
        const a = t().consume(q, { group: 'g', consumer: 'c1', count: 10, blockMs: wait });
        const b = t().consume(q, { group: 'g', consumer: 'c2', count: 10, blockMs: wait });
        await sleep(50);
        const [id] = await t().publish(q, [{ n: 'only-one' }]);
        const [ga, gb] = await Promise.all([a, b]);
        assert.deepEqual([...ga, ...gb].map((d) => d.id), [id]);
      });

      it('should never return more than count to a waiting consumer', async () => {
        const q = queue('block-count');
        await take(q, 'g', 'c0');
        const waiting = t().consume(q, { group: 'g', consumer: 'c1', count: 2, blockMs: Math.max(3000, blockMs * 10) });
        await sleep(50);
        const ids = await t().publish(q, [1, 2, 3, 4, 5].map((n) => ({ n: String(n) })));
        const got = await waiting;
        assert.ok(got.length >= 1 && got.length <= 2, `got ${got.length} messages for count 2`);
        const rest = await drain(q, 'g', 'c2');
        assert.deepEqual([...got, ...rest].map((d) => d.id), ids);
      });
    });

    describe('ack', () => {
      it('should settle messages so they are neither redelivered nor reclaimed', async () => {
        const q = queue('ack');
        const ids = await t().publish(q, [{ n: '1' }, { n: '2' }]);
        await take(q, 'g', 'c1');
        await t().ack(q, 'g', ids);
        assert.equal(await t().backlog(q, 'g'), 0);
        assert.deepEqual(await take(q, 'g', 'c1'), []);
        assert.deepEqual(await t().reclaim(q, { group: 'g', consumer: 'c2', minIdleMs: 0, count: 10 }), []);
      });

      it('should publish follow messages', async () => {
        const q = queue('ack-follow');
        const results = queue('ack-follow-results');
        const [id] = await t().publish(q, [{ n: 'task' }]);
        await take(q, 'g', 'c1');
        const out = { status: 'ok', payload: Buffer.from([0, 255, 10, 13, 128]) };
        await t().ack(q, 'g', [id], [{ queue: results, fields: out }, { queue: q, fields: { n: 'next' } }]);
        assert.equal(await t().backlog(q, 'g'), 1, 'the acked message is gone; the follow message to the same queue waits');
        const [r] = await take(results, 'waiter', 'c1');
        assert.ok(r, 'the follow message was not published');
        assertSameFields(r.fields, out, 'follow message');
        const [next] = await take(q, 'g', 'c1');
        assert.ok(next);
        assert.equal(text(next.fields.n), 'next');
      });

      it('should ack the ids given to consume before reading, also when the read returns nothing', async () => {
        const q = queue('ack-on-consume');
        const ids = await t().publish(q, [{ n: '1' }, { n: '2' }]);
        const first = await take(q, 'g', 'c1', 1);
        assert.equal(first.length, 1);
        const second = await t().consume(q, { group: 'g', consumer: 'c1', count: 10, blockMs: 0, ack: [first[0]!.id] });
        assert.deepEqual(second.map((d) => d.id), [ids[1]]);
        assert.equal(await t().backlog(q, 'g'), 1, 'the first message is acknowledged, the second is pending');
        const none = await t().consume(q, { group: 'g', consumer: 'c1', count: 10, blockMs: Math.min(blockMs, 200), ack: [ids[1]!] });
        assert.deepEqual(none, []);
        assert.equal(await t().backlog(q, 'g'), 0);
        assert.deepEqual(await t().reclaim(q, { group: 'g', consumer: 'c2', minIdleMs: 0, count: 10 }), []);
      });

      it('should delete what it acknowledges with trimAcked, and keep what is not read yet', async () => {
        const q = queue('ack-trim');
        const ids = await t().publish(q, [{ n: '1' }, { n: '2' }, { n: '3' }]);
        assert.equal(await t().backlog(q, 'never-created'), 3, 'a group that does not exist would read every retained entry');
        const first = await take(q, 'g', 'c1', 2);
        assert.deepEqual(first.map((d) => d.id), ids.slice(0, 2));
        const rest = await t().consume(q, { group: 'g', consumer: 'c1', count: 10, blockMs: 0, ack: first.map((d) => d.id), trimAcked: true });
        assert.deepEqual(rest.map((d) => d.id), [ids[2]]);
        assert.equal(await t().backlog(q, 'never-created'), 1, 'the two acknowledged entries are gone, the third is kept');
        assert.equal(await t().backlog(q, 'g'), 1, 'the third is still pending');
        await t().consume(q, { group: 'g', consumer: 'c1', count: 10, blockMs: 0, ack: [ids[2]!], trimAcked: true });
        assert.equal(await t().backlog(q, 'never-created'), 0);
        assert.equal(await t().backlog(q, 'g'), 0);
      });

      it('should accept an empty id list and ids that are already acknowledged', async () => {
        const q = queue('ack-twice');
        const ids = await t().publish(q, [{ n: '1' }]);
        await take(q, 'g', 'c1');
        await t().ack(q, 'g', []);
        await t().ack(q, 'g', ids);
        await t().ack(q, 'g', ids);
        assert.equal(await t().backlog(q, 'g'), 0);
      });
    });

    describe('reclaim', () => {
      it('should not take messages idle for less than minIdleMs', async () => {
        const q = queue('reclaim-fresh');
        await t().publish(q, [{ n: '1' }]);
        await take(q, 'g', 'c1');
        assert.deepEqual(await t().reclaim(q, { group: 'g', consumer: 'c2', minIdleMs: 60_000, count: 10 }), []);
      });

      it('should hand the messages of a crashed consumer to another consumer with deliveryCount incremented', async () => {
        const q = queue('reclaim');
        const sent = [sampleFields(), { n: '2' }];
        const ids = await t().publish(q, sent);
        const taken = await take(q, 'g', 'crashed');
        assert.equal(taken.length, 2);
        // 'crashed' never acks. Nothing else delivers the messages again through consume.
        assert.deepEqual(await take(q, 'g', 'c2'), []);
        await sleep(idleWait);
        const back = await t().reclaim(q, { group: 'g', consumer: 'c2', minIdleMs, count: 10 });
        assert.deepEqual(back.map((d) => d.id), ids);
        back.forEach((d, i) => {
          assert.equal(d.deliveryCount, 2);
          assertSameFields(d.fields, sent[i], `reclaimed message ${i}`);
        });
        // The new owner holds them now: they are not idle, so nobody reclaims them at once.
        assert.deepEqual(await t().reclaim(q, { group: 'g', consumer: 'c3', minIdleMs, count: 10 }), []);
        assert.equal(await t().backlog(q, 'g'), 2);
        await sleep(idleWait);
        const third = await t().reclaim(q, { group: 'g', consumer: 'c3', minIdleMs, count: 10 });
        assert.deepEqual(third.map((d) => [d.id, d.deliveryCount]), ids.map((id) => [id, 3]));
        await t().ack(q, 'g', ids);
        assert.equal(await t().backlog(q, 'g'), 0);
        assert.deepEqual(await t().reclaim(q, { group: 'g', consumer: 'c4', minIdleMs: 0, count: 10 }), []);
      });

      it('should never return more than count', async () => {
        const q = queue('reclaim-count');
        const ids = await t().publish(q, [{ n: '1' }, { n: '2' }, { n: '3' }]);
        await take(q, 'g', 'crashed');
        await sleep(idleWait);
        const first = await t().reclaim(q, { group: 'g', consumer: 'c2', minIdleMs, count: 2 });
        assert.ok(first.length <= 2, `got ${first.length} for count 2`);
        const rest: Delivery[] = [];
        for (let i = 0; i < 5 && first.length + rest.length < 3; i++) {
          rest.push(...(await t().reclaim(q, { group: 'g', consumer: 'c2', minIdleMs, count: 2 })));
        }
        assert.deepEqual([...first, ...rest].map((d) => d.id).sort(), [...ids].sort());
      });

      it('should take only messages of its own group', async () => {
        const q = queue('reclaim-groups');
        await t().publish(q, [{ n: '1' }]);
        await take(q, 'g1', 'crashed');
        await sleep(idleWait);
        assert.deepEqual(await t().reclaim(q, { group: 'g2', consumer: 'c2', minIdleMs, count: 10 }), []);
        assert.equal((await t().reclaim(q, { group: 'g1', consumer: 'c2', minIdleMs, count: 10 })).length, 1);
      });
    });

    describe('touch', () => {
      it("should keep a live consumer's messages from being reclaimed", async () => {
        const q = queue('touch');
        const [id] = await t().publish(q, [{ n: 'long task' }]);
        await take(q, 'g', 'alive');
        // A heartbeat: the consumer keeps touching while it works, longer than minIdleMs in all.
        for (let i = 0; i < 3; i++) {
          await sleep(Math.round(minIdleMs / 2));
          await t().touch(q, 'g', 'alive', [id]);
          assert.deepEqual(await t().reclaim(q, { group: 'g', consumer: 'thief', minIdleMs, count: 10 }), []);
        }
        await sleep(idleWait);
        await t().touch(q, 'g', 'alive', [id]);
        assert.deepEqual(await t().reclaim(q, { group: 'g', consumer: 'thief', minIdleMs, count: 10 }), []);
        // Once the heartbeat stops, the message is reclaimable; touching did not count as a delivery.
        await sleep(idleWait);
        const back = await t().reclaim(q, { group: 'g', consumer: 'thief', minIdleMs, count: 10 });
        assert.deepEqual(back.map((d) => [d.id, d.deliveryCount]), [[id, 2]]);
      });
    });

    describe('deadLetter', () => {
      it('should move the message with its reason to the dead letters and ack it', async () => {
        const q = queue('dlq');
        const sent = sampleFields();
        const [id] = await t().publish(q, [sent]);
        const [d] = await take(q, 'g', 'c1');
        assert.ok(d);
        const reason: DeadLetterReason = {
          code: 'WEFT_SCHEMA_NOT_FOUND',
          message: 'no schema 0123abcd; ünïcode ✓',
          details: { attempts: '3', worker: 'w-1', stack: 'Error: x\n    at y (z.ts:1:2)' },
        };
        const before = Date.now();
        const returned = await t().deadLetter(q, 'g', d, reason);
        assert.equal(await t().backlog(q, 'g'), 0, 'a dead-lettered message is acked');
        assert.deepEqual(await t().reclaim(q, { group: 'g', consumer: 'c2', minIdleMs: 0, count: 10 }), []);
        const dead = await t().deadLetters(q);
        assert.equal(dead.length, 1);
        const [dl] = dead;
        assert.equal(typeof dl.id, 'string');
        // A transport that returns the dead letter's id (optional) returns this one.
        if (returned !== undefined) assert.equal(returned, dl.id, 'deadLetter() resolves to the id of the dead letter it wrote');
        assert.equal(dl.originalId, id);
        assertSameFields(dl.fields, sent, 'dead letter');
        assert.equal(dl.reason.code, reason.code);
        assert.equal(dl.reason.message, reason.message);
        assert.deepEqual({ ...dl.reason.details }, reason.details);
        assert.ok(Number.isFinite(dl.atMs) && Math.abs(dl.atMs - before) < 60_000, `atMs ${dl.atMs} is not a time near now`);
      });

      it('should keep dead letters per queue, oldest first, up to count', async () => {
        const q = queue('dlq-order');
        const other = queue('dlq-other');
        const ids = await t().publish(q, [{ n: '1' }, { n: '2' }, { n: '3' }]);
        const got = await take(q, 'g', 'c1');
        for (const d of got) await t().deadLetter(q, 'g', d, { code: 'WEFT_TEST', message: `bad ${text(d.fields.n)}` });
        const two = await t().deadLetters(q, 2);
        assert.deepEqual(two.map((dl) => dl.originalId), ids.slice(0, 2));
        const all = await t().deadLetters(q);
        assert.deepEqual(all.map((dl) => dl.originalId), ids);
        assert.deepEqual(all.map((dl) => dl.reason.message), ['bad 1', 'bad 2', 'bad 3']);
        for (const dl of all) assert.ok(dl.reason.details === undefined || Object.keys(dl.reason.details).length === 0);
        assert.equal(new Set(all.map((dl) => dl.id)).size, 3);
        assert.deepEqual(await t().deadLetters(other), []);
        assert.equal(await t().backlog(q, 'g'), 0);
      });
    });

    /** Publishes `n` messages to `q` and dead-letters them all; returns their dead letters, oldest first. */
    const makeDead = async (q: string, n: number): Promise<string[]> => {
      const ids = await t().publish(q, Array.from({ length: n }, (_, i) => ({ n: String(i + 1) })));
      for (const d of await drain(q, 'g', 'c1')) await t().deadLetter(q, 'g', d, { code: 'WEFT_TEST', message: `bad ${text(d.fields.n)}` });
      const dead = await t().deadLetters(q, n + 10);
      assert.deepEqual(dead.map((dl) => dl.originalId), ids);
      return dead.map((dl) => dl.id);
    };

    describe('deadLetters', () => {
      it('should page with after: each page starts after the given id, an empty page after the last', async () => {
        const q = queue('dlq-page');
        const ids = await makeDead(q, 5);
        const first = await t().deadLetters(q, 2);
        assert.deepEqual(first.map((dl) => dl.id), ids.slice(0, 2));
        const second = await t().deadLetters(q, 2, { after: first[1]!.id });
        assert.deepEqual(second.map((dl) => dl.id), ids.slice(2, 4));
        assert.deepEqual(second.map((dl) => dl.reason.message), ['bad 3', 'bad 4']);
        const third = await t().deadLetters(q, 2, { after: second[1]!.id });
        assert.deepEqual(third.map((dl) => dl.id), ids.slice(4));
        assert.deepEqual(await t().deadLetters(q, 2, { after: ids[4]! }), []);
      });

      it('should start after an id that is no longer there', async () => {
        const q = queue('dlq-page-gone');
        const ids = await makeDead(q, 3);
        assert.equal(await t().removeDeadLetters(q, [ids[1]!]), 1);
        assert.deepEqual((await t().deadLetters(q, 10, { after: ids[1]! })).map((dl) => dl.id), [ids[2]]);
      });
    });

    describe('findDeadLetter', () => {
      it('should return the dead letter with that id, or undefined (also for an id that is not well formed)', async function () {
        const find = t().findDeadLetter?.bind(t());
        if (!find) this.skip();
        const q = queue('dlq-find');
        const sent = sampleFields();
        const [id] = await t().publish(q, [sent]);
        const [d] = await take(q, 'g', 'c1');
        await t().deadLetter(q, 'g', d!, { code: 'WEFT_TEST', message: 'bad', details: { worker: 'w-1' } });
        const [listed] = await t().deadLetters(q);
        const found = await find!(q, listed!.id);
        assert.ok(found);
        assert.equal(found.id, listed!.id);
        assert.equal(found.originalId, id);
        assertSameFields(found.fields, sent, 'found dead letter');
        assert.deepEqual({ code: found.reason.code, message: found.reason.message, details: { ...found.reason.details } },
          { code: 'WEFT_TEST', message: 'bad', details: { worker: 'w-1' } });
        assert.equal(await find!(q, '1-0'), undefined);
        assert.equal(await find!(q, 'not-an-id'), undefined);
        assert.equal(await find!(queue('dlq-find-none'), listed!.id), undefined);
      });
    });

    describe('removeDeadLetters', () => {
      it('should delete the given dead letters only, and count what it deleted', async () => {
        const q = queue('dlq-remove');
        const ids = await makeDead(q, 4);
        assert.equal(await t().removeDeadLetters(q, [ids[0]!, ids[2]!]), 2);
        assert.deepEqual((await t().deadLetters(q)).map((dl) => dl.id), [ids[1], ids[3]]);
        assert.deepEqual((await t().deadLetters(q)).map((dl) => dl.reason.message), ['bad 2', 'bad 4']);
      });

      it('should skip ids that do not exist or are not well formed, and accept an empty list', async () => {
        const q = queue('dlq-remove-skip');
        const ids = await makeDead(q, 2);
        assert.equal(await t().removeDeadLetters(q, []), 0);
        assert.equal(await t().removeDeadLetters(q, [ids[0]!, ids[0]!, '1-0', 'nope']), 1);
        assert.equal(await t().removeDeadLetters(q, [ids[0]!]), 0);
        assert.equal(await t().removeDeadLetters(queue('dlq-remove-none'), ids), 0);
        assert.deepEqual((await t().deadLetters(q)).map((dl) => dl.id), [ids[1]]);
      });
    });

    describe('purgeDeadLetters', () => {
      it("should delete every dead letter of the queue and no other queue's, and count them", async () => {
        const q = queue('dlq-purge');
        const other = queue('dlq-purge-other');
        await makeDead(q, 3);
        const kept = await makeDead(other, 1);
        assert.equal(await t().purgeDeadLetters(q), 3);
        assert.deepEqual(await t().deadLetters(q), []);
        assert.equal(await t().purgeDeadLetters(q), 0);
        assert.deepEqual((await t().deadLetters(other)).map((dl) => dl.id), kept);
        assert.equal(await t().backlog(q, 'g'), 0);
      });

      it('should leave the queue usable: new dead letters are kept after a purge', async () => {
        const q = queue('dlq-purge-again');
        await makeDead(q, 2);
        await t().purgeDeadLetters(q);
        const [id] = await t().publish(q, [{ n: '9' }]);
        const [d] = await take(q, 'g', 'c1');
        await t().deadLetter(q, 'g', d!, { code: 'WEFT_TEST', message: 'again' });
        assert.deepEqual((await t().deadLetters(q)).map((dl) => dl.originalId), [id]);
      });
    });

    describe('backlog', () => {
      it('should count messages the group has not acknowledged, delivered or not', async () => {
        const q = queue('backlog');
        assert.equal(await t().backlog(q, 'g'), 0, 'an unknown queue has no backlog');
        const ids = await t().publish(q, [1, 2, 3, 4, 5].map((n) => ({ n: String(n) })));
        assert.equal(await t().backlog(q, 'g'), 5, 'a group that has not consumed yet will get every message');
        const got = await take(q, 'g', 'c1', 2);
        assert.equal(await t().backlog(q, 'g'), 5, 'delivered but unacked messages count');
        await t().ack(q, 'g', got.map((d) => d.id));
        assert.equal(await t().backlog(q, 'g'), 3);
        const rest = await take(q, 'g', 'c1', 10);
        assert.equal(rest.length, 3);
        await t().ack(q, 'g', ids);
        assert.equal(await t().backlog(q, 'g'), 0);
        assert.equal(await t().backlog(q, 'other-group'), 5, 'another group still has every message to do');
      });
    });

    describe('close', () => {
      it('should make a waiting consume return promptly', async () => {
        const own = await factory();
        try {
          const q = queue('close');
          await own.transport.consume(q, { group: 'g', consumer: 'c1', count: 1, blockMs: 0 });
          const waiting = own.transport.consume(q, { group: 'g', consumer: 'c1', count: 1, blockMs: Math.max(5000, timeoutMs * 2) });
          const settled = waiting.then((got) => ({ got }), (error: unknown) => ({ error }));
          await sleep(50);
          const closing = Date.now();
          await own.transport.close();
          const outcome = await settled;
          const elapsed = Date.now() - closing;
          assert.ok(elapsed < promptMs, `the waiting consume returned ${elapsed} ms after close()`);
          if ('got' in outcome) assert.deepEqual(outcome.got, [], 'a consume cut short by close() returns no messages');
        } finally {
          await own.cleanup();
        }
      });
    });
  });
}

/** Fields that exercise the edges: every byte value, invalid UTF-8, empty values, non-ASCII text, a large payload. */
function sampleFields(): Fields {
  const large = Buffer.alloc(64 * 1024);
  for (let i = 0; i < large.length; i++) large[i] = (i * 131 + 7) & 0xff;
  return {
    schema_id: '0123456789abcdef0123',
    type: 'conformance.Sample',
    payload: Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    invalid_utf8: Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0x00, 0x80]),
    empty_binary: Buffer.alloc(0),
    empty_text: '',
    unicode: 'héllo wörld ✓ 日本 🧵',
    with_newlines: 'a\nb\r\nc\u0000d',
    large,
  };
}

/**
 * Asserts that `actual` carries the same fields as `expected`: Buffers must come back as Buffers
 * with identical bytes; strings may come back as strings or as Buffers of their UTF-8 bytes.
 */
function assertSameFields(actual: Fields, expected: Fields, what: string): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${what}: field names differ`);
  for (const [k, want] of Object.entries(expected)) {
    const got = actual[k];
    if (Buffer.isBuffer(want)) {
      assert.ok(Buffer.isBuffer(got), `${what}: field '${k}' was published as a Buffer and must be delivered as a Buffer`);
      assert.ok(got.equals(want), `${what}: field '${k}' differs (${got.length} bytes delivered, ${want.length} published)`);
    } else {
      assert.ok(typeof got === 'string' || Buffer.isBuffer(got), `${what}: field '${k}' is neither a string nor a Buffer`);
      assert.equal(text(got), want, `${what}: field '${k}' differs`);
    }
  }
}
