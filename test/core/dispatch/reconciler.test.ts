import { expect } from 'chai';
import { NOTICE_STEP_PREFIX, Reconciler, type ReconcilerOptions } from '../../../core/dispatch/reconciler';
import { DispatchState } from '../../../core/dispatch/state';
import type { DispatchKey } from '../../../core/dispatch/key';
import type { DispatchRecord, DispatchStore, DispatchTransition } from '../../../core/dispatch/store';
import { DispatchArgumentError } from '../../../core/dispatch/errors';
import { createLogger } from '../../../core/observability';
import { MemoryDispatchStore } from '../../../plugins/memory';

const IDLE = 30_000;
const T0 = 1_700_000_000_000;

function keyOf(n: number): DispatchKey {
  return { executionId: 'exec-1', stepId: 'extract', idempotencyKey: n.toString(16).padStart(32, '0') };
}

describe('Reconciler', () => {
  let store: MemoryDispatchStore;
  let now: number;
  let published: DispatchRecord[];

  const clock = () => now;
  function reconciler(extra: Partial<ReconcilerOptions> = {}): Reconciler {
    return new Reconciler({
      store, clock, idleMs: IDLE,
      republish: async (records) => { published.push(...records); },
      ...extra,
    });
  }

  async function create(n: number, extra: { deadlineMs?: number } = {}): Promise<DispatchKey> {
    const key = keyOf(n);
    await store.create({ ...key, correlationId: `corr-${n}`, envelope: { task: 'shop.extract@1', payload: Buffer.from([n]) }, nowMs: now, ...extra });
    return key;
  }

  async function move(key: DispatchKey, change: Omit<DispatchTransition, 'nowMs'>): Promise<void> {
    const res = await store.transition(key, { ...change, nowMs: now });
    expect(res.ok, `${change.from} -> ${change.to}`).to.equal(true);
  }

  beforeEach(() => {
    store = new MemoryDispatchStore();
    now = T0;
    published = [];
  });

  /** The store, with `meanwhile` run after each scan: another instance acting between our scan and our claim. */
  function racingScan(meanwhile: () => Promise<void>): DispatchStore {
    const racing = Object.create(store) as DispatchStore;
    racing.scan = async (req) => {
      const page = await store.scan(req);
      await meanwhile();
      return page;
    };
    return racing;
  }

  describe('constructor', () => {
    it('should refuse out-of-range options with WEFT_DISPATCH_ARGUMENT_INVALID', () => {
      expect(() => reconciler({ idleMs: -1 })).to.throw(DispatchArgumentError).with.property('code', 'WEFT_DISPATCH_ARGUMENT_INVALID');
      expect(() => reconciler({ batch: 0 })).to.throw(DispatchArgumentError);
      expect(() => reconciler({ batch: 1001 })).to.throw(DispatchArgumentError);
      expect(() => reconciler({ intervalMs: 0 })).to.throw(DispatchArgumentError);
      expect(() => reconciler({ maxAttempts: 0 })).to.throw(DispatchArgumentError);
      expect(() => new Reconciler({ store } as unknown as ReconcilerOptions)).to.throw(/republish/);
    });

    it('should accept a pino logger', () => {
      expect(reconciler({ logger: createLogger({ level: 'silent' }) })).to.be.instanceOf(Reconciler);
    });
  });

  describe('runOnce', () => {
    it('should recover an idle PENDING record with the same key and correlation id and the attempt unchanged', async () => {
      const key = await create(1);
      now += IDLE + 1;
      const stats = await reconciler().runOnce();
      expect(stats).to.include({ scanned: 1, republished: 1, lostRaces: 0 });
      expect(published).to.have.length(1);
      const r = published[0]!;
      expect(r).to.include({ ...key, correlationId: 'corr-1', state: DispatchState.SENT, attempt: 0 });
      expect(r.envelope.payload).to.deep.equal(Buffer.from([1]));
      expect((await store.get(key))!).to.include({ state: 'SENT', attempt: 0, updatedAtMs: now });
    });

    it('should redeliver a stalled SENT record as attempt + 1 through FAILED_RETRYABLE', async () => {
      const key = await create(2);
      await move(key, { from: 'PENDING', to: 'SENT' });
      now += IDLE + 1;
      const stats = await reconciler().runOnce();
      expect(stats).to.include({ scanned: 1, republished: 1, lostRaces: 0 });
      expect(published.map((r) => [r.state, r.attempt, r.correlationId])).to.deep.equal([['SENT', 1, 'corr-2']]);
      const stored = (await store.get(key))!;
      expect(stored.history.map((h) => `${h.from}>${h.to}@${h.attempt}`)).to.deep.equal([
        'PENDING>SENT@0', 'SENT>FAILED_RETRYABLE@0', 'FAILED_RETRYABLE>SENT@1',
      ]);
      expect(stored.lastError?.code).to.equal('WEFT_DISPATCH_STALLED');
    });

    it('should redeliver an idle FAILED_RETRYABLE record as attempt + 1', async () => {
      const key = await create(3);
      await move(key, { from: 'PENDING', to: 'SENT' });
      await move(key, { from: 'SENT', to: 'FAILED_RETRYABLE', error: { code: 'BOOM', message: 'flaky' } });
      now += IDLE + 1;
      await reconciler().runOnce();
      expect(published.map((r) => [r.state, r.attempt])).to.deep.equal([['SENT', 1]]);
    });

    it('should never touch terminal records', async () => {
      const acked = await create(4);
      await move(acked, { from: 'PENDING', to: 'SENT' });
      await move(acked, { from: 'SENT', to: 'ACKED' });
      const final = await create(5);
      await move(final, { from: 'PENDING', to: 'FAILED_FINAL', error: { code: 'X', message: 'x' } });
      const before = [await store.get(acked), await store.get(final)];
      now += IDLE * 10;
      const stats = await reconciler().runOnce();
      expect(stats.scanned).to.equal(0);
      expect(published).to.deep.equal([]);
      expect([await store.get(acked), await store.get(final)]).to.deep.equal(before);
    });

    it('should leave records newer than the idle threshold alone', async () => {
      const pending = await create(6);
      const sent = await create(7);
      await move(sent, { from: 'PENDING', to: 'SENT' });
      now += IDLE; // updatedAtMs == now - idleMs: not older than the cutoff
      const stats = await reconciler().runOnce();
      expect(stats).to.include({ scanned: 0, republished: 0 });
      expect((await store.get(pending))!.state).to.equal('PENDING');
      expect((await store.get(sent))!.transitionCount).to.equal(1);
    });

    it('should leave a record for a later round when republish throws', async () => {
      const key = await create(8);
      now += IDLE + 1;
      let fail = true;
      const r = reconciler({
        republish: async (records) => {
          if (fail) throw new Error('transport down');
          published.push(...records);
        },
      });
      expect(await r.runOnce()).to.include({ republished: 0, republishFailed: 1 });
      expect((await store.get(key))!.state).to.equal('SENT');

      fail = false;
      expect(await r.runOnce()).to.include({ scanned: 0 }); // claimed just now: not idle yet
      now += IDLE + 1;
      expect(await r.runOnce()).to.include({ scanned: 1, republished: 1 });
      expect(published.map((p) => [p.state, p.attempt])).to.deep.equal([['SENT', 1]]);
    });

    it('should move a record whose deadline passed to FAILED_FINAL instead of republishing it', async () => {
      const pending = await create(9, { deadlineMs: T0 + 1000 });
      const sent = await create(10, { deadlineMs: T0 + 1000 });
      await move(sent, { from: 'PENDING', to: 'SENT' });
      const failed = await create(11, { deadlineMs: T0 + 1000 });
      await move(failed, { from: 'PENDING', to: 'SENT' });
      await move(failed, { from: 'SENT', to: 'FAILED_RETRYABLE', error: { code: 'BOOM', message: 'x' } });
      const alive = await create(12, { deadlineMs: T0 + 10 * IDLE });
      now += IDLE + 1;
      const stats = await reconciler().runOnce();
      expect(stats).to.include({ scanned: 4, expired: 3, republished: 1 });
      expect(published.map((p) => p.idempotencyKey)).to.deep.equal([alive.idempotencyKey]);
      for (const k of [pending, sent, failed]) {
        const r = (await store.get(k))!;
        expect(r.state).to.equal('FAILED_FINAL');
        expect(r.lastError?.code).to.equal('WEFT_DEADLINE_EXCEEDED');
      }
    });

    it('should fail a record as exhausted when maxAttempts is reached', async () => {
      const key = await create(13);
      await move(key, { from: 'PENDING', to: 'SENT', attempt: 2 });
      now += IDLE + 1;
      const stats = await reconciler({ maxAttempts: 3 }).runOnce();
      expect(stats).to.include({ exhausted: 1, republished: 0 });
      const r = (await store.get(key))!;
      expect(r.state).to.equal('FAILED_FINAL');
      expect(r.lastError?.code).to.equal('WEFT_DISPATCH_RETRIES_EXHAUSTED');
    });

    describe('notify', () => {
      const markerOf = (k: DispatchKey): DispatchKey => ({ ...k, stepId: `${NOTICE_STEP_PREFIX}${k.stepId}` });

      it('should hand the records it ended FAILED_FINAL to notify, after the transition, and drop their markers', async () => {
        const expired = await create(40, { deadlineMs: T0 + 1000 });
        const exhausted = await create(41);
        await move(exhausted, { from: 'PENDING', to: 'SENT', attempt: 2 });
        now += IDLE + 1;
        const told: [string, string, string | undefined, boolean][] = [];
        const stats = await reconciler({
          maxAttempts: 3,
          notify: async (records) => {
            for (const r of records) {
              const stored = (await store.get(r))!;
              const marker = await store.get(markerOf(r));
              told.push([r.idempotencyKey, stored.state, r.lastError?.code, marker?.state === 'PENDING']);
            }
          },
        }).runOnce();
        expect(stats).to.include({ scanned: 2, expired: 1, exhausted: 1, notified: 2, notifyFailed: 0 });
        expect(told.sort()).to.deep.equal([
          [expired.idempotencyKey, 'FAILED_FINAL', 'WEFT_DEADLINE_EXCEEDED', true],
          [exhausted.idempotencyKey, 'FAILED_FINAL', 'WEFT_DISPATCH_RETRIES_EXHAUSTED', true],
        ].sort());
        expect(await store.get(markerOf(expired))).to.equal(undefined);
        expect(await store.get(markerOf(exhausted))).to.equal(undefined);
      });

      it('should notify again in a later round when notify threw (at least once)', async () => {
        const key = await create(42, { deadlineMs: T0 + 1000 });
        now += IDLE + 1;
        let fail = true;
        const told: string[] = [];
        const r = reconciler({
          notify: async (records) => {
            if (fail) throw new Error('transport down');
            told.push(...records.map((x) => x.idempotencyKey));
          },
        });
        expect(await r.runOnce()).to.include({ expired: 1, notified: 0, notifyFailed: 1 });
        expect((await store.get(key))!.state).to.equal('FAILED_FINAL');
        expect((await store.get(markerOf(key)))?.state).to.equal('PENDING', 'the marker stays');
        fail = false;
        expect(await r.runOnce()).to.include({ scanned: 0 }, 'the marker is not idle yet');
        now += IDLE + 1;
        expect(await r.runOnce()).to.include({ scanned: 1, expired: 0, notified: 1 });
        expect(told).to.deep.equal([key.idempotencyKey]);
        expect(await store.get(markerOf(key))).to.equal(undefined);
        now += IDLE + 1;
        expect(await r.runOnce()).to.include({ scanned: 0, notified: 0 });
      });

      it('should drop a marker whose record never reached FAILED_FINAL (a crash before the transition), and handle the record as usual', async () => {
        const key = await create(43, { deadlineMs: T0 + 1000 });
        await store.create({ ...markerOf(key), correlationId: 'corr-43', envelope: {}, queue: 'q', nowMs: now });
        now += IDLE + 1;
        const told: string[] = [];
        const stats = await reconciler({ notify: async (records) => { told.push(...records.map((x) => x.idempotencyKey)); } }).runOnce();
        expect(stats).to.include({ scanned: 2, expired: 1, notified: 1 });
        expect(told).to.deep.equal([key.idempotencyKey], 'told once: the stale marker found the record non-terminal');
        expect(await store.get(markerOf(key))).to.equal(undefined);
        expect(published).to.deep.equal([]);
      });

      it('should drop the marker when the transition to FAILED_FINAL loses its CAS', async () => {
        const key = await create(44, { deadlineMs: T0 + 1000 });
        now += IDLE + 1;
        const racing = racingScan(async () => {
          await store.transition(key, { from: 'PENDING', to: 'SENT', nowMs: now });
        });
        const told: DispatchRecord[] = [];
        const stats = await reconciler({ store: racing, notify: async (records) => { told.push(...records); } }).runOnce();
        expect(stats).to.include({ lostRaces: 1, expired: 0, notified: 0 });
        expect(told).to.deep.equal([]);
        expect(await store.get(markerOf(key))).to.equal(undefined);
      });

      it('should write no marker without notify', async () => {
        const key = await create(45, { deadlineMs: T0 + 1000 });
        now += IDLE + 1;
        expect(await reconciler().runOnce()).to.include({ expired: 1, notified: 0 });
        expect(await store.get(markerOf(key))).to.equal(undefined);
      });
    });

    it('should walk every page in one round', async () => {
      for (let n = 0; n < 25; n++) await create(100 + n);
      now += IDLE + 1;
      const stats = await reconciler({ batch: 7 }).runOnce();
      expect(stats).to.include({ scanned: 25, republished: 25 });
      expect(new Set(published.map((p) => p.idempotencyKey)).size).to.equal(25);
    });

    it('should count a lost CAS as a lost race and skip the record', async () => {
      const key = await create(14);
      now += IDLE + 1;
      // Someone else sends it between the scan and the claim.
      const racing = racingScan(async () => {
        await store.transition(key, { from: 'PENDING', to: 'SENT', nowMs: now });
      });
      const stats = await reconciler({ store: racing }).runOnce();
      expect(stats).to.include({ scanned: 1, lostRaces: 1, republished: 0 });
    });

    it('should put back, not republish, a SENT record another instance redelivered since the scan (A-B-A)', async () => {
      const key = await create(15);
      await move(key, { from: 'PENDING', to: 'SENT' });
      now += IDLE + 1;
      // Another instance redelivers it between our scan and our claim: SENT -> FAILED_RETRYABLE -> SENT.
      const racing = racingScan(async () => {
        await move(key, { from: 'SENT', to: 'FAILED_RETRYABLE', error: { code: 'WEFT_DISPATCH_STALLED', message: 'other' } });
        await move(key, { from: 'FAILED_RETRYABLE', to: 'SENT', attempt: 1 });
      });
      const stats = await reconciler({ store: racing }).runOnce();
      expect(stats).to.include({ scanned: 1, lostRaces: 1, republished: 0 });
      expect(published).to.deep.equal([]);
      expect((await store.get(key))!).to.include({ state: 'SENT', attempt: 1 });
    });

    it('should put back, not republish, a FAILED_RETRYABLE record that was redelivered and failed again since the scan', async () => {
      const key = await create(16);
      await move(key, { from: 'PENDING', to: 'SENT' });
      await move(key, { from: 'SENT', to: 'FAILED_RETRYABLE', error: { code: 'BOOM', message: 'first' } });
      now += IDLE + 1;
      const racing = racingScan(async () => {
        await move(key, { from: 'FAILED_RETRYABLE', to: 'SENT', attempt: 1 });
        await move(key, { from: 'SENT', to: 'FAILED_RETRYABLE', error: { code: 'BOOM', message: 'second' } });
      });
      const stats = await reconciler({ store: racing }).runOnce();
      expect(stats).to.include({ lostRaces: 1, republished: 0 });
      const r = (await store.get(key))!;
      expect(r).to.include({ state: 'FAILED_RETRYABLE', attempt: 1 });
      expect(r.lastError).to.deep.equal({ code: 'BOOM', message: 'second' });
    });
  });

  describe('start', () => {
    it('should run rounds on an interval until closed', async () => {
      await create(17);
      now += IDLE + 1;
      const r = reconciler({ intervalMs: 5 });
      r.start();
      r.start(); // idempotent
      for (let i = 0; i < 100 && published.length === 0; i++) await new Promise((res) => setTimeout(res, 5));
      await r.close();
      expect(published).to.have.length(1);
    });
  });

  describe('close', () => {
    it('should wait for a round in progress', async () => {
      await create(18);
      now += IDLE + 1;
      let release!: () => void;
      let finished = false;
      const r = reconciler({
        republish: async () => {
          await new Promise<void>((res) => { release = res; });
          finished = true;
        },
      });
      const round = r.runOnce();
      for (let i = 0; !release; i++) {
        if (i > 10_000) throw new Error('republish was never called');
        await new Promise((res) => setImmediate(res));
      }
      const closing = r.close();
      setTimeout(() => release(), 10);
      await closing;
      expect(finished).to.equal(true);
      expect(await round).to.include({ republished: 1 });
    });
  });
});
