import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import { DEAD_LETTER_NOT_FOUND, DeadLetterSummary } from '../../../core/runtime/dead-letters';
import type { Fields, Transport } from '../../../core/runtime/transport';
import { appBackends, type Backend } from '../../helpers/backends';
import { Channel, LineItem, Order, Priority } from '../../fixtures/shop';
import { dl, PlaceOrder } from './fixtures/dead-letter-tasks';
import { sleep, waitFor as until } from '../../helpers/wait';

const QUEUE = 'dl-orders';
const BIG = 9007199254740993n; // 2^53 + 1: not a safe JS number



function order(id: string): Order {
  const item = Object.assign(new LineItem(), { sku: 'sku-1', quantity: 2, priceCents: BIG });
  return Object.assign(new Order(), {
    id, total: BIG, items: [item], byWarehouse: new Map([['w1', [item]]]), placedAt: new Date('2024-01-02T03:04:05.678Z'),
    priority: Priority.High, channel: Channel.Store, tags: ['gift'], counters: { views: 3 },
  });
}

const text = (v: string | Buffer | undefined): string => (v === undefined ? '' : v.toString());

let peeks = 0;
/** The fields of message `id` of a queue, read through a group of its own (the worker's group is untouched). */
async function peek(t: Transport, queue: string, id: string): Promise<Fields> {
  const group = `peek-${++peeks}`;
  for (;;) {
    const got = await t.consume(queue, { group, consumer: 'p', count: 1000, blockMs: 0 });
    const hit = got.find((d) => d.id === id);
    if (hit) return hit.fields;
    if (got.length === 0) throw new Error(`message ${id} is not in ${queue}`);
  }
}

const backends: Backend[] = appBackends('dead-letters');

for (const b of backends) {
  describe(`DeadLetters (${b.name})`, function () {
    this.timeout(20_000);
    let producer: Weft;
    let workerApp: Weft;

    const create = async (): Promise<Weft> => Weft.create({ plugins: [await b.plugin()], config: { logLevel: 'silent' } });
    const dead = (n: number): Promise<DeadLetterSummary[]> =>
      until(() => producer.deadLetters.list(QUEUE), (l) => l.length >= n, `${n} dead letter(s)`);
    /** Submits an order that the failing task dead-letters; returns its summary. */
    const failOrder = async (id: string): Promise<DeadLetterSummary> => {
      const before = (await producer.deadLetters.list(QUEUE)).length;
      await producer.submit(PlaceOrder, order(id), { awaitResult: false, correlationId: `corr-${id}` });
      const list = await dead(before + 1);
      return list[list.length - 1]!;
    };
    /** Publishes a copy of a dead letter's fields with some replaced, and waits for the worker to dead-letter it. */
    const publishBroken = async (from: string, change: Record<string, string | Buffer>): Promise<DeadLetterSummary> => {
      const [src] = await producer.app.transport.deadLetters(QUEUE, 1, undefined);
      expect(src?.id).to.equal(from);
      const before = (await producer.deadLetters.list(QUEUE)).length;
      // A new idempotency key: the copy is new work, not a duplicate of the dead-lettered item.
      await producer.app.transport.publish(QUEUE, [{ ...src!.fields, idempotency_key: `broken-${Math.random()}`, ...change }]);
      const list = await dead(before + 1);
      return list[list.length - 1]!;
    };

    before(async () => {
      producer = await create();
      workerApp = b.name === 'memory' ? producer : await create(); // memory: one transport per app
      await workerApp.worker({ tasks: [PlaceOrder], concurrency: 4, blockMs: 100, retry: { maxAttempts: 1 } });
    });
    beforeEach(async () => {
      dl.reset();
      await producer.deadLetters.purge(QUEUE);
    });
    after(async () => {
      await workerApp.close();
      if (producer !== workerApp) await producer.close();
      await b.cleanup();
    });

    describe('list', () => {
      it('should summarise a message the task failed on: task, ids, attempt, code and message', async () => {
        const s = await failOrder('o-1');
        expect(s).to.include({ task: 'dl.order@1', correlationId: 'corr-o-1', attempt: 0, code: 'APP_OUT_OF_STOCK', message: 'no stock for order o-1' });
        expect(s.executionId).to.be.a('string').and.not.equal('');
        expect(s.idempotencyKey).to.be.a('string').and.not.equal('');
        expect(s.id).to.be.a('string');
        expect(s.originalId).to.be.a('string').and.not.equal(s.id);
        expect(Math.abs(s.atMs - Date.now())).to.be.below(60_000);
      });

      it('should page with count and after', async () => {
        const ids = [(await failOrder('p-1')).id, (await failOrder('p-2')).id, (await failOrder('p-3')).id];
        const first = await producer.deadLetters.list(QUEUE, { count: 2 });
        expect(first.map((s) => s.id)).to.deep.equal(ids.slice(0, 2));
        const rest = await producer.deadLetters.list(QUEUE, { count: 2, after: first[1]!.id });
        expect(rest.map((s) => s.id)).to.deep.equal(ids.slice(2));
        expect(await producer.deadLetters.list(QUEUE, { after: ids[2] })).to.deep.equal([]);
      });
    });

    describe('inspect', () => {
      it('should decode the payload to JSON (int64 as a string, Date as an ISO string, Map as an object) with the diagnostics', async () => {
        const s = await failOrder('o-2');
        const d = await producer.deadLetters.inspect(QUEUE, s.id);
        expect(d.summary).to.deep.equal(s);
        expect(d.envelope).to.include({ task: 'dl.order@1', type: 'shop.Order', idempotency_key: s.idempotencyKey, retry_attempt: '0' });
        expect(d.envelope).to.not.have.property('payload');
        expect(d.payload).to.deep.equal({
          type: 'shop.Order',
          json: {
            id: 'o-2',
            total: '9007199254740993',
            items: [{ sku: 'sku-1', quantity: 2, priceCents: '9007199254740993' }],
            byWarehouse: { w1: { values: [{ sku: 'sku-1', quantity: 2, priceCents: '9007199254740993' }] } },
            placedAt: '2024-01-02T03:04:05.678Z',
            priority: 'PRIORITY_HIGH',
            channel: 'CHANNEL_STORE',
            tags: ['gift'],
            counters: { views: 3 },
          },
        });
        expect(JSON.parse(JSON.stringify(d))).to.deep.equal(d); // JSON-safe throughout
        expect(d.diagnostics).to.include({ delivery_count: '1' });
        expect(d.diagnostics.worker).to.be.a('string').and.not.equal('');
        expect(d.diagnostics.stack).to.contain('no stock for order o-2');
      });

      it('should return payload.error instead of throwing for a schema id the registry does not have', async () => {
        const src = await failOrder('o-3');
        const s = await publishBroken(src.id, { schema_id: 'f'.repeat(32) });
        expect(s.code).to.equal('WEFT_SCHEMA_NOT_FOUND');
        const d = await producer.deadLetters.inspect(QUEUE, s.id);
        expect(d.payload).to.have.property('error').that.includes({ code: 'WEFT_SCHEMA_NOT_FOUND' });
        expect(d.envelope.schema_id).to.equal('f'.repeat(32));
      });

      it('should return payload.error instead of throwing for a corrupt payload', async () => {
        const src = await failOrder('o-4');
        const s = await publishBroken(src.id, { payload: Buffer.from([0xff, 0xff, 0xff]) });
        expect(s.code).to.equal('WEFT_DECODE_ERROR');
        const d = await producer.deadLetters.inspect(QUEUE, s.id);
        expect(d.payload).to.have.property('error').that.includes({ code: 'WEFT_DECODE_ERROR' });
        expect((d.payload as { error: { message: string } }).error.message).to.contain('shop.Order');
      });

      it('should reject an unknown id with WEFT_DEAD_LETTER_NOT_FOUND, saying how to list the ids', async () => {
        for (const id of ['1-0', 'nope']) {
          const err = await producer.deadLetters.inspect(QUEUE, id).then(() => undefined, (e: unknown) => e);
          expect(err).to.have.property('code', DEAD_LETTER_NOT_FOUND);
          expect((err as Error).message).to.contain(`deadLetters.list("${QUEUE}")`);
        }
      });
    });

    describe('replay', () => {
      it('should run the message again once the cause is fixed: same idempotency key, execution and correlation ids, next attempt', async () => {
        const s = await failOrder('o-5');
        const before = await producer.deadLetters.inspect(QUEUE, s.id);
        dl.failing = false; // the fix is deployed
        const messageId = await producer.deadLetters.replay(QUEUE, s.id);
        const ran = await until(async () => dl.ran, (r) => r.length > 0, 'the replayed task to run');
        expect(ran).to.deep.equal([{ id: 'o-5', attempt: 1, executionId: s.executionId, correlationId: 'corr-o-5' }]);
        const sent = await peek(producer.app.transport, QUEUE, messageId);
        expect(text(sent.idempotency_key)).to.equal(s.idempotencyKey);
        expect(text(sent.execution_id)).to.equal(s.executionId);
        expect(text(sent.retry_attempt)).to.equal('1');
        expect(Number(text(sent.dispatch_ts_ms))).to.be.at.least(Number(before.envelope.dispatch_ts_ms));
        expect(Object.keys(sent).filter((k) => k.startsWith('dlq_'))).to.deep.equal([]);
        expect(await producer.app.transport.findDeadLetter!(QUEUE, s.id)).to.equal(undefined, 'the dead letter is deleted');
        expect(await producer.deadLetters.list(QUEUE)).to.deep.equal([]);
      });

      it('should start again at attempt 0 with resetAttempt, and dead-letter again if the cause is not fixed', async () => {
        const s = await failOrder('o-6');
        await producer.deadLetters.replay(QUEUE, s.id, { resetAttempt: true });
        const [again] = await dead(1);
        expect(again).to.include({ attempt: 0, executionId: s.executionId, idempotencyKey: s.idempotencyKey, code: 'APP_OUT_OF_STOCK' });
        expect(again!.id).to.not.equal(s.id);
        const next = await producer.deadLetters.replay(QUEUE, again!.id);
        expect(text((await peek(producer.app.transport, QUEUE, next)).retry_attempt)).to.equal('1');
        const [third] = await dead(1);
        expect(third!.attempt).to.equal(1);
      });

      it('should reject an unknown id with WEFT_DEAD_LETTER_NOT_FOUND and publish nothing', async () => {
        const backlog = await producer.app.transport.backlog(QUEUE, 'weft');
        const err = await producer.deadLetters.replay(QUEUE, '1-0').then(() => undefined, (e: unknown) => e);
        expect(err).to.have.property('code', DEAD_LETTER_NOT_FOUND);
        expect(await producer.app.transport.backlog(QUEUE, 'weft')).to.equal(backlog);
      });
    });

    describe('purge', () => {
      it('should delete the given dead letters, then all of them, counting what it deleted', async () => {
        const ids = [(await failOrder('q-1')).id, (await failOrder('q-2')).id, (await failOrder('q-3')).id];
        expect(await producer.deadLetters.purge(QUEUE, [ids[1]!, '1-0'])).to.equal(1);
        expect((await producer.deadLetters.list(QUEUE)).map((s) => s.id)).to.deep.equal([ids[0], ids[2]]);
        expect(await producer.deadLetters.purge(QUEUE)).to.equal(2);
        expect(await producer.deadLetters.list(QUEUE)).to.deep.equal([]);
        expect(await producer.deadLetters.purge(QUEUE)).to.equal(0);
      });
    });

    describe('Weft.deadLetters', () => {
      it('should be one instance per app', () => {
        expect(producer.deadLetters).to.equal(producer.deadLetters);
      });
    });
  });
}
