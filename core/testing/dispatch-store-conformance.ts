import assert from 'node:assert/strict';
import { rejection } from './assertions';
import { DispatchArgumentError, DispatchErrorCode, DispatchKeyError } from '../dispatch/errors';
import type { DispatchKey } from '../dispatch/key';
import { DISPATCH_TRANSITIONS, DispatchState, IllegalTransitionError } from '../dispatch/state';
import {
  DISPATCH_HISTORY_LIMIT,
  type DispatchRecord, type DispatchScanRequest, type DispatchStore, type NewDispatchRecord,
} from '../dispatch/store';

/** What a conformance factory hands back: a ready, empty store and a way to release it. */
export interface DispatchStoreFixture {
  /** A store that is ready to use (the factory has called `init()` if it has one) and holds no records. */
  readonly store: DispatchStore;
  /** Releases everything the fixture created (store, clients, keys). Must tolerate a closed store. */
  cleanup(): Promise<void>;
}

/** Makes a fresh, empty {@link DispatchStoreFixture}. Called once per test. */
export type DispatchStoreFactory = () => Promise<DispatchStoreFixture>;

/** Tunables of {@link dispatchStoreConformance}. */
export interface DispatchStoreConformanceOptions {
  /** Mocha timeout of each test, in ms. Default 10000. */
  readonly timeoutMs?: number;
  /** How many callers race in the concurrency tests. Default 20. */
  readonly concurrency?: number;
}

const { PENDING, SENT, ACKED, FAILED_RETRYABLE, FAILED_FINAL } = DispatchState;

/** A path from `PENDING` to each state, through allowed edges. */
const PATH_TO: Readonly<Record<DispatchState, readonly DispatchState[]>> = {
  PENDING: [],
  SENT: [SENT],
  ACKED: [SENT, ACKED],
  FAILED_RETRYABLE: [SENT, FAILED_RETRYABLE],
  FAILED_FINAL: [SENT, FAILED_FINAL],
};

/**
 * Registers a mocha suite that proves a {@link DispatchStore} behaves as core expects: idempotent
 * `create`; compare-and-set `transition` that follows the state machine (legal edges succeed,
 * illegal ones throw `IllegalTransitionError`, exactly one of many concurrent callers wins);
 * ordered, bounded history; `scan` of non-terminal records older than a cutoff, with pagination;
 * `delete`; and values copied in and out.
 *
 * @remarks
 * Call it at the top level of a mocha test file (it uses mocha's global `describe`, `it`,
 * `beforeEach` and `afterEach`). Every test gets a fresh store from `factory` and releases it with
 * `cleanup()`, so `scan` results only contain the test's own records. All times are explicit
 * `nowMs` values; the suite never waits on the clock.
 *
 * @example
 * ```ts
 * import { dispatchStoreConformance } from 'weft/core/testing';
 * import { MyDispatchStore } from '../src/my-dispatch-store';
 *
 * dispatchStoreConformance('MyDispatchStore', async () => {
 *   const store = new MyDispatchStore({ url: process.env.MY_URL, namespace: randomName() });
 *   await store.init();
 *   return { store, cleanup: async () => { await store.dropAll(); await store.close(); } };
 * });
 * ```
 *
 * @param name - Shown as the outer `describe` title.
 * @param factory - Makes a ready, empty store and its cleanup.
 * @param options - See {@link DispatchStoreConformanceOptions}.
 */
export function dispatchStoreConformance(name: string, factory: DispatchStoreFactory, options: DispatchStoreConformanceOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 20;

  describe(name, function () {
    this.timeout(timeoutMs);
    let fixture: DispatchStoreFixture | undefined;
    let counter = 0;
    const s = (): DispatchStore => {
      assert.ok(fixture, 'the dispatch store factory failed; see the before-each hook');
      return fixture.store;
    };

    beforeEach(async () => { fixture = await factory(); });
    afterEach(async () => {
      const f = fixture;
      fixture = undefined;
      await f?.cleanup();
    });

    const newKey = (label = 'item'): DispatchKey => ({
      executionId: `exec-${++counter}`, stepId: `step-${label}`, idempotencyKey: `${counter.toString(16).padStart(32, '0')}`,
    });
    const newRecord = (key: DispatchKey, over: Partial<NewDispatchRecord> = {}): NewDispatchRecord => ({
      ...key, correlationId: `corr-${key.executionId}`, envelope: { task: 'demo.task', payload: Buffer.from([0, 1, 2, 255]) },
      nowMs: 1_000, ...over,
    });
    /** Creates a record and walks it to `state` along {@link PATH_TO}, one ms per step from `startMs`. */
    const recordIn = async (state: DispatchState, startMs = 1_000, key = newKey()): Promise<DispatchKey> => {
      await s().create(newRecord(key, { nowMs: startMs }));
      let from: DispatchState = PENDING;
      let t = startMs;
      for (const to of PATH_TO[state]) {
        const r = await s().transition(key, { from, to, nowMs: ++t });
        assert.ok(r.ok, `setup transition ${from} -> ${to} failed`);
        from = to;
      }
      return key;
    };
    const scanAll = async (request: Omit<DispatchScanRequest, 'cursor'>): Promise<{ records: DispatchRecord[]; pages: number }> => {
      const records: DispatchRecord[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await s().scan({ ...request, ...(cursor === undefined ? {} : { cursor }) });
        pages++;
        assert.ok(page.records.length <= (request.limit ?? 100), 'a page must not exceed the limit');
        records.push(...page.records);
        cursor = page.cursor;
        assert.ok(pages < 10_000, 'scan did not terminate');
      } while (cursor !== undefined);
      return { records, pages };
    };
    const ids = (records: readonly DispatchKey[]): string[] => records.map((r) => r.executionId).sort();

    describe('create', () => {
      it('should insert a PENDING record with every field given', async () => {
        const key = newKey();
        const res = await s().create(newRecord(key, { correlationId: 'corr-x', deadlineMs: 9_000, attempt: 2, nowMs: 1_234 }));
        assert.equal(res.created, true);
        const expected: DispatchRecord = {
          ...key, state: PENDING, attempt: 2, correlationId: 'corr-x', deadlineMs: 9_000, createdAtMs: 1_234, updatedAtMs: 1_234,
          envelope: { task: 'demo.task', payload: Buffer.from([0, 1, 2, 255]) }, history: [], transitionCount: 0,
        };
        assert.deepStrictEqual(res.record, expected);
        assert.deepStrictEqual(await s().get(key), expected);
      });

      it('should keep string and Buffer envelope fields apart, byte for byte', async () => {
        const key = newKey();
        const envelope = { s: 'héllo', b: Buffer.from('héllo', 'utf8'), empty: '', emptyBytes: Buffer.alloc(0), bin: Buffer.from([0xff, 0x00, 0xc3]) };
        await s().create(newRecord(key, { envelope }));
        const got = (await s().get(key))!;
        assert.deepStrictEqual(got.envelope, envelope);
        assert.equal(typeof got.envelope.s, 'string');
        assert.ok(Buffer.isBuffer(got.envelope.b));
        assert.equal(got.deadlineMs, undefined);
        assert.equal('deadlineMs' in got, false, 'an absent deadline is absent, not undefined-valued');
      });

      it('should return the existing record and never overwrite it on a duplicate create', async () => {
        const key = newKey();
        const first = await s().create(newRecord(key));
        await s().transition(key, { from: PENDING, to: SENT, nowMs: 2_000 });
        const stored = await s().get(key);
        const again = await s().create(newRecord(key, { correlationId: 'other', envelope: { other: 'x' }, nowMs: 5_000 }));
        assert.equal(first.created, true);
        assert.equal(again.created, false);
        assert.deepStrictEqual(again.record, stored);
        assert.deepStrictEqual(await s().get(key), stored);
      });

      it(`should create exactly once when ${concurrency} callers race`, async () => {
        const key = newKey();
        const results = await Promise.all(Array.from({ length: concurrency }, (_, i) =>
          s().create(newRecord(key, { correlationId: `corr-${i}` }))));
        const winners = results.filter((r) => r.created);
        assert.equal(winners.length, 1);
        for (const r of results) assert.deepStrictEqual(r.record, winners[0]!.record);
      });

      it('should treat keys that differ in any part as different records', async () => {
        const keys: DispatchKey[] = [
          { executionId: 'e', stepId: 'a:b', idempotencyKey: 'c' },
          { executionId: 'e', stepId: 'a', idempotencyKey: 'b:c' },
          { executionId: 'e:a', stepId: 'b', idempotencyKey: 'c' },
          { executionId: 'e{x}', stepId: 's', idempotencyKey: 'k' },
          { executionId: 'e', stepId: 'x}', idempotencyKey: 'k' },
          { executionId: 'e%3A', stepId: 's', idempotencyKey: 'k' },
          { executionId: 'e:', stepId: 's', idempotencyKey: 'k' },
        ];
        for (const [i, key] of keys.entries()) {
          const r = await s().create({ ...key, correlationId: `c${i}`, envelope: {}, nowMs: 1_000 + i });
          assert.equal(r.created, true, `key ${i} collided with an earlier one`);
        }
        for (const [i, key] of keys.entries()) {
          const got = (await s().get(key))!;
          assert.equal(got.correlationId, `c${i}`);
          assert.deepStrictEqual({ e: got.executionId, s: got.stepId, k: got.idempotencyKey }, { e: key.executionId, s: key.stepId, k: key.idempotencyKey });
        }
      });

      it('should refuse malformed input with a coded error and write nothing', async () => {
        const key = newKey();
        const cases: [Partial<NewDispatchRecord>, string][] = [
          [{ executionId: '' }, DispatchErrorCode.KEY_INVALID],
          [{ stepId: 5 as never }, DispatchErrorCode.KEY_INVALID],
          [{ correlationId: '' }, DispatchErrorCode.ARGUMENT_INVALID],
          [{ attempt: -1 }, DispatchErrorCode.ARGUMENT_INVALID],
          [{ nowMs: 1.5 }, DispatchErrorCode.ARGUMENT_INVALID],
          [{ deadlineMs: -5 }, DispatchErrorCode.ARGUMENT_INVALID],
          [{ envelope: { n: 5 } as never }, DispatchErrorCode.ARGUMENT_INVALID],
        ];
        for (const [over, code] of cases) {
          const err = await rejection(s().create(newRecord(key, over)));
          assert.ok(err instanceof DispatchKeyError || err instanceof DispatchArgumentError, String(err));
          assert.equal((err as DispatchKeyError).code, code, JSON.stringify(over));
        }
        assert.equal(await s().get(key), undefined);
        assert.deepStrictEqual((await s().scan()).records, []);
      });
    });

    describe('transition', () => {
      it('should walk a record through a retry to ACKED, updating every field', async () => {
        const key = newKey();
        await s().create(newRecord(key, { nowMs: 1_000 }));
        const error = { code: 'E_TEMP', message: 'try again', stack: 'Error: try again\n    at x' };
        const result = { bytes: Buffer.from([8, 1]), schemaId: 'abcdef0123456789', type: 'demo.Out' };
        const steps = [
          { from: PENDING, to: SENT, nowMs: 1_100 },
          { from: SENT, to: FAILED_RETRYABLE, nowMs: 1_200, error },
          { from: FAILED_RETRYABLE, to: SENT, nowMs: 1_300, attempt: 1 },
          { from: SENT, to: ACKED, nowMs: 1_400, result },
        ] as const;
        let last: DispatchRecord | undefined;
        for (const step of steps) {
          const r = await s().transition(key, step);
          assert.ok(r.ok, `${step.from} -> ${step.to} should succeed`);
          assert.equal(r.record.state, step.to);
          assert.equal(r.record.updatedAtMs, step.nowMs);
          last = r.record;
        }
        assert.deepStrictEqual(last, await s().get(key));
        assert.equal(last!.attempt, 1);
        assert.equal(last!.createdAtMs, 1_000);
        assert.deepStrictEqual(last!.result, result);
        assert.deepStrictEqual(last!.lastError, error);
        assert.equal(last!.transitionCount, 4);
        assert.deepStrictEqual(last!.history, [
          { atMs: 1_100, from: PENDING, to: SENT, attempt: 0 },
          { atMs: 1_200, from: SENT, to: FAILED_RETRYABLE, attempt: 0, error },
          { atMs: 1_300, from: FAILED_RETRYABLE, to: SENT, attempt: 1 },
          { atMs: 1_400, from: SENT, to: ACKED, attempt: 1 },
        ]);
      });

      it('should allow every edge of the state machine', async () => {
        for (const rule of DISPATCH_TRANSITIONS) {
          const key = await recordIn(rule.from);
          const r = await s().transition(key, { from: rule.from, to: rule.to, nowMs: 5_000 });
          assert.ok(r.ok, `${rule.from} -> ${rule.to}`);
          assert.equal(r.record.state, rule.to);
        }
      });

      it('should throw IllegalTransitionError for an edge the state machine lacks, whatever the stored state', async () => {
        const pending = await recordIn(PENDING);
        const acked = await recordIn(ACKED);
        const cases: [DispatchKey, DispatchState, DispatchState][] = [
          [pending, PENDING, ACKED], [pending, PENDING, FAILED_RETRYABLE], [pending, PENDING, PENDING],
          [acked, ACKED, SENT], [acked, ACKED, FAILED_FINAL], [acked, FAILED_FINAL, PENDING], [acked, 'NOPE' as DispatchState, SENT],
        ];
        for (const [key, from, to] of cases) {
          const before = await s().get(key);
          const err = await rejection(s().transition(key, { from, to, nowMs: 9_000 }));
          assert.ok(err instanceof IllegalTransitionError, `${from} -> ${to}: ${String(err)}`);
          assert.equal(err.code, 'WEFT_DISPATCH_ILLEGAL_TRANSITION');
          assert.equal(err.from, from);
          assert.equal(err.to, to);
          assert.deepStrictEqual(err.key, key);
          assert.deepStrictEqual(await s().get(key), before, 'an illegal transition must not write');
        }
      });

      it('should report a lost compare-and-set with the current record and write nothing', async () => {
        const key = await recordIn(ACKED);
        const before = await s().get(key);
        const r = await s().transition(key, { from: SENT, to: FAILED_RETRYABLE, nowMs: 9_000, error: { code: 'E', message: 'late' } });
        assert.equal(r.ok, false);
        assert.deepStrictEqual(!r.ok && r.current, before);
        assert.deepStrictEqual(await s().get(key), before);
      });

      it('should report a missing record as a lost compare-and-set with no current record', async () => {
        const r = await s().transition(newKey(), { from: PENDING, to: SENT, nowMs: 1 });
        assert.deepStrictEqual(r, { ok: false, current: undefined });
      });

      it(`should let exactly one of ${concurrency} concurrent SENT -> ACKED callers win`, async () => {
        const key = await recordIn(SENT);
        const results = await Promise.all(Array.from({ length: concurrency }, (_, i) =>
          s().transition(key, { from: SENT, to: ACKED, nowMs: 10_000 + i })));
        const winners = results.filter((r) => r.ok);
        assert.equal(winners.length, 1);
        for (const r of results) if (!r.ok) assert.equal(r.current?.state, ACKED);
        const stored = (await s().get(key))!;
        assert.equal(stored.history.filter((h) => h.to === ACKED).length, 1);
        assert.equal(stored.transitionCount, 2);
      });

      it(`should let exactly one of ${concurrency} callers racing different edges out of SENT win`, async () => {
        const key = await recordIn(SENT);
        const targets = [ACKED, FAILED_RETRYABLE, FAILED_FINAL] as const;
        const results = await Promise.all(Array.from({ length: concurrency }, (_, i) =>
          s().transition(key, { from: SENT, to: targets[i % 3]!, nowMs: 10_000 + i })));
        const winners = results.filter((r) => r.ok);
        assert.equal(winners.length, 1);
        assert.equal((await s().get(key))!.state, winners[0]!.ok && winners[0]!.record.state);
      });

      it(`should keep only the newest ${DISPATCH_HISTORY_LIMIT} history entries, in order`, async () => {
        const key = await recordIn(SENT, 0);
        let t = 100;
        let attempt = 0;
        const total = DISPATCH_HISTORY_LIMIT + 11;
        let count = 1;
        let lastMessage = '';
        while (count < total) {
          lastMessage = `fail ${attempt}`;
          await s().transition(key, { from: SENT, to: FAILED_RETRYABLE, nowMs: ++t, error: { code: 'E', message: lastMessage } });
          count++;
          if (count === total) break;
          await s().transition(key, { from: FAILED_RETRYABLE, to: SENT, nowMs: ++t, attempt: ++attempt });
          count++;
        }
        const r = (await s().get(key))!;
        assert.equal(r.transitionCount, total);
        assert.equal(r.history.length, DISPATCH_HISTORY_LIMIT);
        const times = r.history.map((h) => h.atMs);
        assert.deepStrictEqual(times, [...times].sort((a, b) => a - b));
        assert.equal(times[times.length - 1], t, 'the newest entry is kept');
        assert.equal(times[0], t - DISPATCH_HISTORY_LIMIT + 1, 'the oldest entries are dropped');
        assert.equal(r.attempt, attempt);
        assert.deepStrictEqual(r.lastError, { code: 'E', message: lastMessage });
      });

      it('should refuse an error or a result on the wrong transition, and bad values, with a coded error', async () => {
        const key = await recordIn(SENT);
        const before = await s().get(key);
        const bad = [
          { from: SENT, to: ACKED, nowMs: 1, error: { code: 'E', message: 'm' } },
          { from: SENT, to: FAILED_FINAL, nowMs: 1, result: { bytes: Buffer.alloc(1), schemaId: 'x', type: 't' } },
          { from: SENT, to: ACKED, nowMs: 1, result: { bytes: 'no' as never, schemaId: 'x', type: 't' } },
          { from: SENT, to: FAILED_FINAL, nowMs: 1, error: { code: '', message: 'm' } },
          { from: SENT, to: ACKED, nowMs: -1 },
          { from: SENT, to: ACKED, nowMs: 1, attempt: 0.5 },
        ];
        for (const change of bad) {
          const err = await rejection(s().transition(key, change));
          assert.ok(err instanceof DispatchArgumentError, String(err));
          assert.equal(err.code, 'WEFT_DISPATCH_ARGUMENT_INVALID');
        }
        const keyErr = await rejection(s().transition({ ...key, stepId: '' }, { from: SENT, to: ACKED, nowMs: 1 }));
        assert.ok(keyErr instanceof DispatchKeyError);
        assert.deepStrictEqual(await s().get(key), before);
      });
    });

    describe('get', () => {
      it('should return undefined for an unknown record', async () => {
        assert.equal(await s().get(newKey()), undefined);
      });
    });

    describe('scan', () => {
      it('should list only non-terminal records older than the cutoff, oldest first', async () => {
        const pending = await recordIn(PENDING, 1_000);
        const sent = await recordIn(SENT, 2_000);
        const retry = await recordIn(FAILED_RETRYABLE, 3_000);
        await recordIn(ACKED, 1_500);
        await recordIn(FAILED_FINAL, 1_600);
        const young = await recordIn(SENT, 8_000);
        const page = await s().scan({ olderThanMs: 5_000 });
        assert.deepStrictEqual(page.records.map((r) => r.executionId), [pending.executionId, sent.executionId, retry.executionId]);
        assert.equal(page.cursor, undefined);
        assert.deepStrictEqual(page.records[1], await s().get(sent));
        assert.deepStrictEqual(ids((await s().scan()).records), ids([pending, sent, retry, young]));
      });

      it('should treat the cutoff as exclusive', async () => {
        const key = await recordIn(PENDING, 4_000);
        assert.deepStrictEqual((await s().scan({ olderThanMs: 4_000 })).records, []);
        assert.deepStrictEqual(ids((await s().scan({ olderThanMs: 4_001 })).records), ids([key]));
      });

      it('should filter by state', async () => {
        const pending = await recordIn(PENDING, 1_000);
        const sent = await recordIn(SENT, 1_000);
        const retry = await recordIn(FAILED_RETRYABLE, 1_000);
        assert.deepStrictEqual(ids((await scanAll({ states: [SENT] })).records), ids([sent]));
        assert.deepStrictEqual(ids((await scanAll({ states: [PENDING, FAILED_RETRYABLE] })).records), ids([pending, retry]));
      });

      it('should page through every match exactly once, ties included', async () => {
        const keys: DispatchKey[] = [];
        for (let i = 0; i < 23; i++) keys.push(await recordIn(i % 2 ? PENDING : SENT, 1_000 + Math.floor(i / 5) * 10));
        await recordIn(SENT, 50_000);
        const { records, pages } = await scanAll({ olderThanMs: 10_000, limit: 5 });
        assert.ok(pages >= 5, `expected at least 5 pages, got ${pages}`);
        assert.deepStrictEqual(ids(records), ids(keys));
        const times = records.map((r) => r.updatedAtMs);
        assert.deepStrictEqual(times, [...times].sort((a, b) => a - b));
      });

      it('should page through many records that share one updatedAtMs', async () => {
        const keys: DispatchKey[] = [];
        for (let i = 0; i < 30; i++) keys.push(await recordIn(PENDING, 7_000));
        const { records } = await scanAll({ limit: 4 });
        assert.deepStrictEqual(ids(records), ids(keys));
      });

      it('should find a rare state behind many records of other states', async () => {
        for (let i = 0; i < 40; i++) await recordIn(SENT, 1_000 + i);
        const rare = await recordIn(FAILED_RETRYABLE, 2_000);
        const { records } = await scanAll({ states: [FAILED_RETRYABLE], limit: 1 });
        assert.deepStrictEqual(ids(records), ids([rare]));
      });

      it('should page through a filtered scan', async () => {
        const wanted: DispatchKey[] = [];
        for (let i = 0; i < 12; i++) {
          const k = await recordIn(i % 3 === 0 ? FAILED_RETRYABLE : SENT, 1_000 + i);
          if (i % 3 === 0) wanted.push(k);
        }
        const { records } = await scanAll({ states: [FAILED_RETRYABLE], limit: 2 });
        assert.deepStrictEqual(ids(records), ids(wanted));
      });

      it('should stop listing a record once it is terminal, and list it again after a redelivery', async () => {
        const done = await recordIn(SENT, 1_000);
        const retried = await recordIn(SENT, 1_000);
        assert.equal((await s().scan({ olderThanMs: 5_000 })).records.length, 2);
        await s().transition(done, { from: SENT, to: ACKED, nowMs: 2_000 });
        await s().transition(retried, { from: SENT, to: FAILED_RETRYABLE, nowMs: 2_000, error: { code: 'E', message: 'm' } });
        assert.deepStrictEqual(ids((await s().scan({ olderThanMs: 5_000 })).records), ids([retried]));
        await s().transition(retried, { from: FAILED_RETRYABLE, to: SENT, nowMs: 6_000, attempt: 1 });
        assert.deepStrictEqual((await s().scan({ olderThanMs: 5_000 })).records, [], 'updatedAtMs moved past the cutoff');
        await s().transition(retried, { from: SENT, to: FAILED_FINAL, nowMs: 7_000, error: { code: 'E', message: 'final' } });
        assert.deepStrictEqual((await s().scan()).records, []);
      });

      it('should refuse terminal states, a bad limit and a foreign cursor with a coded error', async () => {
        const bad: DispatchScanRequest[] = [
          { states: [ACKED] }, { states: [SENT, FAILED_FINAL] }, { states: [] }, { states: ['NOPE' as DispatchState] },
          { limit: 0 }, { limit: 1.5 }, { limit: 1_000_000 }, { olderThanMs: -1 }, { cursor: 'not-a-cursor' },
        ];
        for (const request of bad) {
          const err = await rejection(s().scan(request));
          assert.ok(err instanceof DispatchArgumentError, `${JSON.stringify(request)}: ${String(err)}`);
          assert.equal(err.code, 'WEFT_DISPATCH_ARGUMENT_INVALID');
        }
      });
    });

    describe('delete', () => {
      it('should remove a record and its index entry', async () => {
        const key = await recordIn(SENT, 1_000);
        assert.equal(await s().delete(key), true);
        assert.equal(await s().get(key), undefined);
        assert.deepStrictEqual((await s().scan()).records, []);
        assert.equal(await s().delete(key), false);
        assert.equal((await s().create(newRecord(key))).created, true, 'the key can be reused after a delete');
      });
    });

    describe('values', () => {
      it('should copy values in and out so that callers cannot change stored state', async () => {
        const key = newKey();
        const payload = Buffer.from([1, 2, 3]);
        const envelope: Record<string, string | Buffer> = { task: 't', payload };
        await s().create(newRecord(key, { envelope }));
        payload[0] = 99;
        envelope.task = 'changed';
        envelope.extra = 'x';
        await s().transition(key, { from: PENDING, to: SENT, nowMs: 2_000 });
        const result = { bytes: Buffer.from([7, 7]), schemaId: 'sid', type: 'demo.Out' };
        await s().transition(key, { from: SENT, to: ACKED, nowMs: 3_000, result });
        result.bytes[0] = 0;
        const got = (await s().get(key))!;
        assert.deepStrictEqual(got.envelope, { task: 't', payload: Buffer.from([1, 2, 3]) });
        assert.deepStrictEqual(got.result?.bytes, Buffer.from([7, 7]));
        (got.envelope.payload as Buffer)[1] = 42;
        (got.envelope as Record<string, string | Buffer>).task = 'mutated';
        (got.history as unknown[]).push({ bogus: true });
        got.result!.bytes[1] = 0;
        (got as { state: string }).state = 'ACKED?';
        const again = (await s().get(key))!;
        assert.deepStrictEqual(again.envelope, { task: 't', payload: Buffer.from([1, 2, 3]) });
        assert.equal(again.history.length, 2);
        assert.deepStrictEqual(again.result?.bytes, Buffer.from([7, 7]));
        assert.equal(again.state, ACKED);
      });
    });
  });
}
