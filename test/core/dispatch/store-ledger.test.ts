import { expect } from 'chai';
import { DispatchState } from '../../../core/dispatch/state';
import { StoreLedger } from '../../../core/dispatch/store-ledger';
import type { DispatchKey } from '../../../core/dispatch/key';
import type { LedgerItem } from '../../../core/dispatch/ledger';
import { MemoryDispatchStore, MemoryTransport } from '../../../plugins/memory';

const QUEUE = 'sl-q';
const GROUP = 'g';
const T0 = 1_700_000_000_000;

const key: DispatchKey = { executionId: 'exec-1', stepId: 'step', idempotencyKey: '0'.repeat(31) + '1' };
const item: LedgerItem = {
  key, correlationId: 'corr-1',
  fields: { task: 'demo.task@1', payload: Buffer.from([1, 2, 3]), execution_id: key.executionId, idempotency_key: key.idempotencyKey, retry_attempt: '0' },
};

describe('StoreLedger', () => {
  let store: MemoryDispatchStore;
  let transport: MemoryTransport;

  beforeEach(() => {
    store = new MemoryDispatchStore();
    transport = new MemoryTransport();
  });
  afterEach(async () => {
    await transport.close();
  });

  describe('fail', () => {
    // A worker can receive the message and fail before the producer's PENDING -> SENT lands (the
    // publish is on the wire first). The retry must still be scheduled: found by dispatchParity on Redis.
    it('should schedule the retry of a delivery whose record is still PENDING', async () => {
      let release!: () => void;
      const producerPaused = new Promise<void>((r) => { release = r; });
      const ledger = new StoreLedger(store, transport, { pauses: { afterPublish: () => producerPaused } });
      const sending = ledger.send(QUEUE, [item], T0);
      const [delivery] = await transport.consume(QUEUE, { group: GROUP, consumer: 'w', count: 1, blockMs: 1000 });
      expect(delivery).to.not.equal(undefined);
      expect((await store.get(key))?.state).to.equal(DispatchState.PENDING);

      await ledger.fail(QUEUE, GROUP, {
        delivery: delivery!, key, error: { code: 'APP_FLAKY', message: 'flaky' },
        retry: { attempt: 1, notBeforeMs: T0 + 10 }, deadLetter: { code: 'APP_FLAKY', message: 'flaky' },
      }, T0 + 1);
      release();
      expect(await sending).to.deep.equal([{ sent: true }]);

      const failed = await store.get(key);
      expect(failed?.state).to.equal(DispatchState.FAILED_RETRYABLE);
      expect(failed?.history.map((h) => [h.from, h.to])).to.deep.equal([
        [DispatchState.PENDING, DispatchState.SENT], [DispatchState.SENT, DispatchState.FAILED_RETRYABLE],
      ]);
      expect(await transport.backlog(QUEUE, GROUP)).to.equal(0, 'the failed delivery is acked');
      expect(await transport.deadLetters(QUEUE)).to.deep.equal([]);

      expect(await ledger.redeliverDue(QUEUE, T0 + 10, 10)).to.deep.equal({ redelivered: 1 });
      const [retry] = await transport.consume(QUEUE, { group: GROUP, consumer: 'w', count: 10, blockMs: 0 });
      expect(retry?.fields.retry_attempt).to.equal('1');
      expect((await store.get(key))?.attempt).to.equal(1);
    });
  });
});
