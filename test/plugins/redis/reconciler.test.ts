import Redis from 'ioredis';
import { expect } from 'chai';
import { Reconciler, type DispatchKey, type DispatchRecord, type ReconcileStats } from '../../../core/dispatch';
import { RedisDispatchStore } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, uniquePrefix } from '../../helpers/redis';

const IDLE = 30_000;
const RECORDS = 200;
const ROUNDS = 5;

function keyOf(n: number): DispatchKey {
  return { executionId: `exec-${n % 7}`, stepId: 'extract', idempotencyKey: n.toString(16).padStart(32, '0') };
}

describe('Reconciler', () => {
  describe('runOnce (two instances, two Redis clients, one RedisDispatchStore prefix)', () => {
    let redisA: Redis;
    let redisB: Redis;
    let prefix: string;
    let storeA: RedisDispatchStore;
    let storeB: RedisDispatchStore;

    before(async () => {
      redisA = await connectTestRedis();
      redisB = await connectTestRedis();
    });
    after(async () => {
      await redisA.quit();
      await redisB.quit();
    });
    beforeEach(async () => {
      prefix = uniquePrefix('reconciler');
      storeA = new RedisDispatchStore({ redis: redisA, prefix });
      storeB = new RedisDispatchStore({ redis: redisB, prefix });
      await storeA.init();
      await storeB.init();
    });
    afterEach(async () => {
      await storeA.close();
      await storeB.close();
      await deletePrefix(redisA, prefix);
    });

    it('should republish each stalled record exactly once per round in total, never twice', async () => {
      let now = 1_700_000_000_000;
      const clock = () => now;
      // Start from all three non-terminal states.
      for (let n = 0; n < RECORDS; n++) {
        const key = keyOf(n);
        await storeA.create({ ...key, correlationId: `corr-${n}`, envelope: { task: 'shop.extract@1' }, nowMs: now });
        if (n % 3 >= 1) await storeA.transition(key, { from: 'PENDING', to: 'SENT', nowMs: now });
        if (n % 3 === 2) {
          await storeA.transition(key, { from: 'SENT', to: 'FAILED_RETRYABLE', nowMs: now, error: { code: 'BOOM', message: 'x' } });
        }
      }

      let counts = new Map<string, number>();
      const republish = async (records: DispatchRecord[]): Promise<void> => {
        for (const r of records) counts.set(r.idempotencyKey, (counts.get(r.idempotencyKey) ?? 0) + 1);
      };
      const a = new Reconciler({ store: storeA, republish, clock, idleMs: IDLE, batch: 40 });
      const b = new Reconciler({ store: storeB, republish, clock, idleMs: IDLE, batch: 40 });

      let lostRaces = 0;
      for (let round = 1; round <= ROUNDS; round++) {
        now += IDLE + 1; // every record is idle again
        counts = new Map();
        const stats: ReconcileStats[] = await Promise.all([a.runOnce(), b.runOnce()]);
        const twice = [...counts].filter(([, c]) => c !== 1);
        expect(twice, `round ${round}: records republished more than once`).to.deep.equal([]);
        expect(counts.size, `round ${round}: records republished`).to.equal(RECORDS);
        expect(stats[0]!.republished + stats[1]!.republished).to.equal(RECORDS);
        lostRaces += stats[0]!.lostRaces + stats[1]!.lostRaces;
      }

      expect(lostRaces, 'the two instances should have raced').to.be.greaterThan(0);
      for (let n = 0; n < RECORDS; n++) {
        const r = (await storeB.get(keyOf(n)))!;
        expect(r.state).to.equal('SENT');
        expect(r.correlationId).to.equal(`corr-${n}`);
        // A PENDING record's first recovery is not a redelivery; every later round is one.
        expect(r.attempt, `record ${n}`).to.equal(n % 3 === 0 ? ROUNDS - 1 : ROUNDS);
      }
    });
  });
});
