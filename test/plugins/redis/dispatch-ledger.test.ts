import type Redis from 'ioredis';
import { expect } from 'chai';
import { DispatchErrorCode, DispatchState, type DispatchKey, type LedgerItem } from '../../../core/dispatch';
import { toFields } from '../../../core/tasks/wire';
import type { Delivery } from '../../../core/runtime/transport';
import { RedisDispatchLedger, RedisDispatchStore, RedisStreamsTransport, delayedKey } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, uniquePrefix } from '../../helpers/redis';

const QUEUE = 'ledger-q';
const GROUP = 'g';

function item(n: number, over: { deadlineMs?: number } = {}): LedgerItem {
  const key: DispatchKey = { executionId: `exec-${n}`, stepId: 'step', idempotencyKey: `key-${n}` };
  return {
    key, correlationId: `corr-${n}`, ...over,
    fields: toFields({
      schemaId: 'abc', type: 't.In', payload: Buffer.from([8, n & 127]), task: 't.task@1', resolverId: 'default', strategy: 'registry',
      correlationId: `corr-${n}`, executionId: key.executionId, idempotencyKey: key.idempotencyKey, stepId: 'step', retryAttempt: 0,
      deadlineMs: over.deadlineMs, dispatchTsMs: 1000, parentItemId: '', traceparent: '', replyTo: '',
    }),
  };
}

describe('RedisDispatchLedger', () => {
  let redis: Redis;
  let prefix: string;
  let transport: RedisStreamsTransport;
  let store: RedisDispatchStore;
  let ledger: RedisDispatchLedger;

  before(async () => {
    redis = await connectTestRedis();
  });
  after(async () => {
    await redis.quit();
  });
  beforeEach(async () => {
    prefix = uniquePrefix('ledger');
    transport = new RedisStreamsTransport({ redis, prefix, binaryFields: ['payload'] });
    store = new RedisDispatchStore({ redis, prefix, retentionMs: 60_000 });
    ledger = new RedisDispatchLedger(transport, store);
    await transport.init();
  });
  afterEach(async () => {
    await transport.close();
    await deletePrefix(redis, prefix);
  });

  const read = (count = 100): Promise<Delivery[]> => transport.consume(QUEUE, { group: GROUP, consumer: 'c', count, blockMs: 0 });

  it('should create each record as SENT with the entry id and publish it, once per key', async () => {
    const out = await ledger.send(QUEUE, [item(1), item(2), item(1)], 5000);
    expect(out.map((o) => o.sent)).to.deep.equal([true, true, false], 'the second item 1 of the batch is a duplicate');
    const got = await read();
    expect(got).to.have.length(2);
    const r = await store.get(item(1).key);
    expect(r).to.include({ state: DispatchState.SENT, attempt: 0, correlationId: 'corr-1', queue: QUEUE, messageId: got[0]!.id, createdAtMs: 5000 });
    expect(r!.history).to.deep.equal([{ atMs: 5000, from: 'PENDING', to: 'SENT', attempt: 0 }]);
    expect(r!.envelope).to.deep.equal({}, 'the ledger keeps the entry id, not a copy');
    expect(await redis.zscore(`${prefix}:dispatch:open`, store.recordKey(item(1).key))).to.equal('5000');
    const again = await ledger.send(QUEUE, [item(2)], 6000);
    expect(again).to.deep.equal([{ sent: false, record: { state: 'SENT', attempt: 0, createdAtMs: 5000 } }]);
    expect(await read()).to.have.length(0, 'a duplicate publishes nothing');
  });

  it('should complete: ACKED with the result, a result reply, acked, out of the index, with a TTL', async () => {
    await ledger.send(QUEUE, [item(1)], 5000);
    const [d] = await read();
    await ledger.complete(QUEUE, GROUP, [{
      deliveryId: d!.id, key: item(1).key, result: { bytes: Buffer.from('out'), schemaId: 'sid', type: 't.Out' },
      reply: { queue: 'replies', executionId: 'exec-1', idempotencyKey: 'key-1' },
    }], 7000);
    const r = await store.get(item(1).key);
    expect(r).to.include({ state: 'ACKED', updatedAtMs: 7000 });
    expect(r!.result).to.deep.equal({ bytes: Buffer.from('out'), schemaId: 'sid', type: 't.Out' });
    expect(r!.history.map((h) => h.to)).to.deep.equal(['SENT', 'ACKED']);
    expect(await transport.backlog(QUEUE, GROUP)).to.equal(0);
    expect(await redis.zscore(`${prefix}:dispatch:open`, store.recordKey(item(1).key))).to.equal(null);
    const ttl = await redis.pttl(store.recordKey(item(1).key));
    expect(ttl).to.be.within(1, 60_000);
    const [reply] = await transport.consume('replies', { group: 'r', consumer: 'r', count: 10, blockMs: 0 });
    expect(reply!.fields).to.deep.include({ kind: 'result', execution_id: 'exec-1', idempotency_key: 'key-1', schema_id: 'sid', type: 't.Out' });
    expect(Buffer.from(reply!.fields.payload as Buffer).toString()).to.equal('out');
    const [done, none] = await ledger.inspect([item(1).key, item(9).key]);
    expect(done).to.deep.include({ state: 'ACKED', attempt: 0, createdAtMs: 5000 });
    expect(done!.result).to.deep.equal({ bytes: Buffer.from('out'), schemaId: 'sid', type: 't.Out' });
    expect(none).to.equal(undefined);
  });

  it('should schedule a retry with a copy of the envelope and redeliver it when due with attempt + 1', async () => {
    await ledger.send(QUEUE, [item(1)], 5000);
    const [d] = await read();
    await ledger.fail(QUEUE, GROUP, {
      delivery: d!, key: item(1).key, error: { code: 'E_FLAKY', message: 'flaky' }, retry: { attempt: 1, notBeforeMs: 8000 },
      deadLetter: { code: 'E_FLAKY', message: 'flaky' },
    }, 7000);
    expect(await store.get(item(1).key)).to.include({ state: 'FAILED_RETRYABLE' });
    expect(await transport.backlog(QUEUE, GROUP)).to.equal(0, 'the failed delivery is acked');
    expect(await ledger.redeliverDue(QUEUE, 7999, 10)).to.deep.equal({ redelivered: 0, nextDueMs: 8000 });
    expect(await ledger.redeliverDue(QUEUE, 8000, 10)).to.deep.equal({ redelivered: 1 });
    const [again] = await read();
    expect(again!.fields).to.include({ retry_attempt: '1', dispatch_ts_ms: '8000', idempotency_key: 'key-1', correlation_id: 'corr-1' });
    expect(Buffer.isBuffer(again!.fields.payload)).to.equal(true);
    const r = await store.get(item(1).key);
    expect(r).to.include({ state: 'SENT', attempt: 1, messageId: again!.id });
    expect(r!.lastError).to.deep.equal({ code: 'E_FLAKY', message: 'flaky' });
    expect(await redis.zcard(delayedKey(prefix, QUEUE))).to.equal(0);
  });

  it('should dead-letter a final failure with its diagnostics and make the record FAILED_FINAL', async () => {
    await ledger.send(QUEUE, [item(1)], 5000);
    const [d] = await read();
    await ledger.fail(QUEUE, GROUP, {
      delivery: d!, key: item(1).key, error: { code: 'E_BAD', message: 'bad', stack: 'at x' },
      deadLetter: { code: 'E_BAD', message: 'bad', details: { attempts: '1', worker: 'w1' } },
    }, 7000);
    const r = await store.get(item(1).key);
    expect(r).to.include({ state: 'FAILED_FINAL' });
    expect(r!.lastError).to.deep.equal({ code: 'E_BAD', message: 'bad', stack: 'at x' });
    const [dl] = await transport.deadLetters(QUEUE);
    expect(dl!.reason).to.deep.include({ code: 'E_BAD', message: 'bad' });
    expect(dl!.reason.details).to.include({ attempts: '1', worker: 'w1' });
    expect(await transport.backlog(QUEUE, GROUP)).to.equal(0);
  });

  it('should republish a stalled record by reading its entry back, and fail it when the entry is gone', async () => {
    await ledger.send(QUEUE, [item(1), item(2)], 5000);
    const [one, two] = await Promise.all([store.get(item(1).key), store.get(item(2).key)]);
    await redis.xdel(transport.keys(QUEUE).stream, two!.messageId!);
    await ledger.republish([one!, two!]);
    const got = await read();
    expect(got).to.have.length(2, 'entry 1 twice (first copy and the republished one), entry 2 gone');
    expect(got[1]!.fields).to.include({ idempotency_key: 'key-1', recovered: '1' });
    const lost = await store.get(item(2).key);
    expect(lost).to.include({ state: 'FAILED_FINAL' });
    expect(lost!.lastError?.code).to.equal(DispatchErrorCode.ENVELOPE_LOST);
  });

  it('should touch SENT records (updatedAtMs and index score) without a transition, and leave others alone', async () => {
    await ledger.send(QUEUE, [item(1), item(2)], 5000);
    const [d] = await read(1);
    await ledger.complete(QUEUE, GROUP, [{ deliveryId: d!.id, key: item(1).key }], 6000);
    await ledger.touch([item(1).key, item(2).key, item(3).key], 9000);
    expect(await store.get(item(1).key)).to.include({ state: 'ACKED', updatedAtMs: 6000 });
    const two = await store.get(item(2).key);
    expect(two).to.include({ state: 'SENT', updatedAtMs: 9000, transitionCount: 1 });
    expect(await redis.zscore(`${prefix}:dispatch:open`, store.recordKey(item(2).key))).to.equal('9000');
    expect(await redis.exists(store.recordKey(item(3).key))).to.equal(0, 'touch creates nothing');
  });

  it('should drop the envelope copy of a record the store created when it completes it', async () => {
    const it1 = item(1);
    await store.create({ ...it1.key, correlationId: 'corr-1', envelope: it1.fields, queue: QUEUE, nowMs: 5000 });
    await store.transition(it1.key, { from: 'PENDING', to: 'SENT', nowMs: 5001 });
    const [id] = await transport.publish(QUEUE, [it1.fields]);
    await read();
    await ledger.complete(QUEUE, GROUP, [{ deliveryId: id!, key: it1.key, result: { bytes: Buffer.from('x'), schemaId: 's', type: 't' } }], 6000);
    const fields = Object.keys(await redis.hgetall(store.recordKey(it1.key)));
    expect(fields.filter((f) => f.startsWith('e:'))).to.deep.equal([]);
    expect(await store.get(it1.key)).to.include({ state: 'ACKED' });
  });
});
