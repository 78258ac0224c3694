import assert from 'node:assert/strict';
import type { EventLog, LoggedEvent } from '../events/event-log';
import { EventsErrorCode } from '../events/errors';
import { text } from './assertions';

/** What an event-log conformance factory hands back: a ready log and a way to release it. */
export interface EventLogFixture {
  /** A ready event log (the factory has called its `init()`, if it has one). */
  readonly log: EventLog;
  /**
   * Releases everything the fixture created (the log, clients, keys). After it resolves nothing of
   * the fixture may keep the Node.js event loop alive. Must tolerate a log already closed.
   */
  cleanup(): Promise<void>;
  /**
   * How many entries the backend holds for `stream` right now (Redis: `XLEN`). Optional: without
   * it the retention test checks what a read from `'0'` returns.
   */
  length?(stream: string): Promise<number>;
}

/** Makes a fresh {@link EventLogFixture}. Called once per suite. */
export type EventLogFactory = () => Promise<EventLogFixture>;

/** Tunables of {@link eventLogConformance}. */
export interface EventLogConformanceOptions {
  /** `blockMs` of reads expected to wait and time out. Default 150. */
  readonly blockMs?: number;
  /** Longest time a blocked read may take to return after an append. Default 1000. */
  readonly promptMs?: number;
  /** Mocha timeout of each test. Default 5000. */
  readonly timeoutMs?: number;
  /** Prefix of every stream name the suite uses. Default `conformance`. */
  readonly streamPrefix?: string;
  /**
   * Retention is approximate (Redis `MAXLEN ~` trims whole macro nodes): the retention test then
   * checks that the stream is bounded (at most `maxLen` plus this slack) and keeps at least
   * `maxLen` entries. `0` (the default) demands exact trimming. Redis needs about 100 (its default
   * node size).
   */
  readonly retentionSlack?: number;
}

let streamCounter = 0;

/**
 * Registers a mocha suite that proves an {@link EventLog} behaves as core expects: entries come back
 * in order with their fields; readers are independent (each keeps its own cursor and sees every
 * entry); a reader from `'0'` gets everything so far; `afterId` is exclusive; `count` pages; a
 * blocking read is woken by an append and times out with `[]`; `maxLen` bounds a stream; bad
 * arguments are refused with `WEFT_EVENT_LOG_INVALID_ARGUMENT`.
 *
 * @remarks
 * Call it at the top level of a mocha test file. Each test uses streams of its own, so leftovers of
 * an earlier run do not matter. Values written as strings may come back as strings or as Buffers
 * holding their UTF-8 bytes.
 *
 * @example
 * ```ts
 * import { eventLogConformance } from 'weft/core/testing';
 *
 * eventLogConformance('MyEventLog', async () => {
 *   const log = new MyEventLog({ url: process.env.MY_URL });
 *   await log.init();
 *   return { log, cleanup: () => log.close() };
 * });
 * ```
 *
 * @param name - The outer `describe` title.
 * @param factory - Makes a ready log and its cleanup.
 * @param options - See {@link EventLogConformanceOptions}.
 */
export function eventLogConformance(name: string, factory: EventLogFactory, options: EventLogConformanceOptions = {}): void {
  const blockMs = options.blockMs ?? 150;
  const promptMs = options.promptMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const prefix = options.streamPrefix ?? 'conformance';
  const slack = options.retentionSlack ?? 0;
  const runId = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  const streamName = (label: string): string => `${prefix}.${runId}.${label}.${++streamCounter}`;

  describe(name, function () {
    this.timeout(timeoutMs);
    let fixture: EventLogFixture | undefined;
    const log = (): EventLog => {
      assert.ok(fixture, 'the event log factory failed; see the before-all hook');
      return fixture.log;
    };
    before(async () => { fixture = await factory(); });
    after(async () => { await fixture?.cleanup(); });

    const ns = (entries: readonly LoggedEvent[]): string[] => entries.map((e) => text(e.fields.n) ?? '<no n>');
    const appendN = async (stream: string, n: number, from = 0): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = from; i < from + n; i++) ids.push(await log().append(stream, { n: String(i) }));
      return ids;
    };

    it('should return increasing ids and give entries back in order with their fields', async () => {
      const s = streamName('order');
      const ids = await appendN(s, 5);
      assert.equal(new Set(ids).size, 5, 'ids must be distinct');
      const got = await log().read(s, '0');
      assert.deepEqual(got.map((e) => e.id), ids);
      assert.deepEqual(ns(got), ['0', '1', '2', '3', '4']);
      const id = await log().append(s, { kind: 'progress', message: 'héllo wörld', empty: '' });
      const [e] = await log().read(s, ids[4]!);
      assert.ok(e, 'the entry was not read back');
      assert.equal(e.id, id);
      assert.equal(text(e.fields.kind), 'progress');
      assert.equal(text(e.fields.message), 'héllo wörld');
      assert.equal(text(e.fields.empty), '');
    });

    it('should let independent readers each see every entry', async () => {
      const s = streamName('readers');
      await appendN(s, 3);
      const a1 = await log().read(s, '0', { count: 2 });
      const b = await log().read(s, '0');
      assert.deepEqual(ns(a1), ['0', '1']);
      assert.deepEqual(ns(b), ['0', '1', '2'], 'a read by one reader must not consume entries for another');
      const a2 = await log().read(s, a1[1]!.id);
      assert.deepEqual(ns(a2), ['2']);
      assert.deepEqual(ns(await log().read(s, '0')), ['0', '1', '2']);
    });

    it('should give a late reader from 0 everything appended so far', async () => {
      const s = streamName('late');
      await appendN(s, 4);
      const early = await log().read(s, '0');
      await appendN(s, 2, 4);
      const late = await log().read(s, '0');
      assert.deepEqual(ns(early), ['0', '1', '2', '3']);
      assert.deepEqual(ns(late), ['0', '1', '2', '3', '4', '5']);
    });

    it('should read only entries after afterId (exclusive), and nothing after the last one', async () => {
      const s = streamName('after');
      const ids = await appendN(s, 4);
      assert.deepEqual(ns(await log().read(s, ids[1]!)), ['2', '3']);
      assert.deepEqual(await log().read(s, ids[3]!), []);
      assert.deepEqual(await log().read(streamName('missing'), '0'), [], 'a stream never appended to reads as empty');
    });

    it('should return at most count entries, and page through with the last id', async () => {
      const s = streamName('count');
      await appendN(s, 7);
      const seen: string[] = [];
      let cursor = '0';
      for (let pages = 0; pages < 10; pages++) {
        const page = await log().read(s, cursor, { count: 3 });
        if (page.length === 0) break;
        assert.ok(page.length <= 3, `a page held ${page.length} entries with count 3`);
        seen.push(...ns(page));
        cursor = page[page.length - 1]!.id;
      }
      assert.deepEqual(seen, ['0', '1', '2', '3', '4', '5', '6']);
      assert.equal((await log().read(s, '0', { count: 1 })).length, 1);
    });

    it('should wake a blocking read when an entry is appended', async () => {
      const s = streamName('wake');
      const [first] = await appendN(s, 1);
      const started = Date.now();
      const pending = log().read(s, first!, { blockMs: promptMs * 5 });
      await new Promise((r) => setTimeout(r, 50));
      await log().append(s, { n: 'new' });
      const got = await pending;
      assert.deepEqual(ns(got), ['new']);
      assert.ok(Date.now() - started < promptMs * 2, `the read returned ${Date.now() - started} ms after it started`);
    });

    it('should wake a blocking read on a stream that does not exist yet', async () => {
      const s = streamName('wake-new');
      const pending = log().read(s, '0', { blockMs: promptMs * 5 });
      await new Promise((r) => setTimeout(r, 50));
      await log().append(s, { n: 'first' });
      assert.deepEqual(ns(await pending), ['first']);
    });

    it('should return an entry at once, without blocking, when one is already there', async () => {
      const s = streamName('no-wait');
      await appendN(s, 2);
      const started = Date.now();
      assert.deepEqual(ns(await log().read(s, '0', { blockMs: promptMs * 5 })), ['0', '1']);
      assert.ok(Date.now() - started < promptMs);
    });

    it('should time out a blocking read with [] when nothing is appended', async () => {
      const s = streamName('timeout');
      const [id] = await appendN(s, 1);
      const started = Date.now();
      const got = await log().read(s, id!, { blockMs });
      const took = Date.now() - started;
      assert.deepEqual(got, []);
      assert.ok(took >= blockMs - 20, `returned after ${took} ms, before blockMs ${blockMs}`);
      assert.ok(took < blockMs + promptMs, `returned after ${took} ms, long after blockMs ${blockMs}`);
    });

    it('should keep other streams out of a read', async () => {
      const a = streamName('iso-a');
      const b = streamName('iso-b');
      await log().append(a, { n: 'a' });
      await log().append(b, { n: 'b' });
      assert.deepEqual(ns(await log().read(a, '0')), ['a']);
      assert.deepEqual(ns(await log().read(b, '0')), ['b']);
    });

    it('should bound a stream by maxLen, keeping the newest entries', async function () {
      this.timeout(Math.max(timeoutMs, 20_000));
      const s = streamName('retention');
      const maxLen = 50;
      const total = maxLen * 3 + slack * 3;
      for (let i = 0; i < total; i++) await log().append(s, { n: String(i) }, { maxLen });
      const held = fixture?.length ? await fixture.length(s) : await readAll(log(), s).then((e) => e.length);
      assert.ok(held <= maxLen + slack, `the stream holds ${held} entries with maxLen ${maxLen} (slack ${slack})`);
      assert.ok(held >= maxLen, `the stream holds ${held} entries: fewer than maxLen ${maxLen}`);
      const all = await readAll(log(), s);
      assert.equal(text(all[all.length - 1]?.fields.n), String(total - 1), 'the newest entry must be kept');
      const kept = ns(all).map(Number);
      assert.deepEqual(kept, kept.slice().sort((x, y) => x - y), 'entries must stay in order');
      assert.equal(kept[0], total - all.length, 'trimming must remove the oldest entries');
    });

    it('should keep a stream with ttlMs readable until it expires, then drop it; an append renews the TTL', async () => {
      const s = streamName('ttl');
      await log().append(s, { n: '0' }, { ttlMs: 600, maxLen: 100 });
      assert.deepEqual(ns(await log().read(s, '0')), ['0']);
      await new Promise((r) => setTimeout(r, 400));
      await log().append(s, { n: '1' }, { ttlMs: 600, maxLen: 100 }); // 600 ms from now
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(ns(await log().read(s, '0')), ['0', '1'], 'the append renewed the TTL');
      await new Promise((r) => setTimeout(r, 700));
      assert.deepEqual(await log().read(s, '0'), [], 'the stream expired 600 ms after its last append');
    });

    describe('bad arguments', () => {
      const code = EventsErrorCode.INVALID_ARGUMENT;
      const refuses = async (what: string, p: () => Promise<unknown>): Promise<void> => {
        await assert.rejects(p, (e: unknown) => {
          assert.equal((e as { code?: unknown }).code, code, `${what}: expected ${code}, got ${String((e as Error).message)}`);
          return true;
        }, `${what} was accepted`);
      };

      it(`should refuse bad appends with ${EventsErrorCode.INVALID_ARGUMENT}`, async () => {
        const s = streamName('bad-append');
        await refuses('an empty stream name', () => log().append('', { n: '1' }));
        await refuses('a non-string stream name', () => log().append(42 as unknown as string, { n: '1' }));
        await refuses('no fields', () => log().append(s, {}));
        await refuses('a number value', () => log().append(s, { n: 1 as unknown as string }));
        await refuses('maxLen 0', () => log().append(s, { n: '1' }, { maxLen: 0 }));
        await refuses('a fractional maxLen', () => log().append(s, { n: '1' }, { maxLen: 1.5 }));
        await refuses('a negative ttlMs', () => log().append(s, { n: '1' }, { ttlMs: -1 }));
        assert.deepEqual(await log().read(s, '0'), [], 'nothing may be appended by a refused call');
      });

      it(`should refuse bad reads with ${EventsErrorCode.INVALID_ARGUMENT}`, async () => {
        const s = streamName('bad-read');
        await refuses('an empty stream name', () => log().read('', '0'));
        await refuses('afterId "$"', () => log().read(s, '$'));
        await refuses('afterId "abc"', () => log().read(s, 'abc'));
        await refuses('afterId "1-2-3"', () => log().read(s, '1-2-3'));
        await refuses('count 0', () => log().read(s, '0', { count: 0 }));
        await refuses('a negative count', () => log().read(s, '0', { count: -5 }));
        await refuses('a negative blockMs', () => log().read(s, '0', { blockMs: -1 }));
        await refuses('a NaN blockMs', () => log().read(s, '0', { blockMs: Number.NaN }));
      });
    });
  });
}

async function readAll(log: EventLog, stream: string): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  let cursor = '0';
  for (;;) {
    const page = await log.read(stream, cursor, { count: 1000 });
    if (page.length === 0) return out;
    out.push(...page);
    cursor = page[page.length - 1]!.id;
  }
}
