import { expect } from 'chai';
import { transportConformance } from '../../../core/testing';
import { TransportError, type Fields } from '../../../core/runtime/transport';
import { MemoryTransport } from '../../../plugins/memory';

transportConformance('MemoryTransport (conformance)', async () => {
  const transport = new MemoryTransport();
  return { transport, cleanup: () => transport.close() };
});

/** A clock the test moves by hand. */
function fakeClock(start = 1_700_000_000_000): { now: () => number; set(ms: number): void; advance(ms: number): void } {
  let t = start;
  return { now: () => t, set: (ms) => { t = ms; }, advance: (ms) => { t += ms; } };
}

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
/** Counts timers once mocha has armed its own test timeout (it does so after the test function first returns). */
const settledTimeouts = async (): Promise<number> => {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return timeouts();
};
const msgs = (n: number): Fields[] => Array.from({ length: n }, (_, i) => ({ n: String(i) }));

describe('MemoryTransport', () => {
  let transport: MemoryTransport;
  afterEach(async () => { await transport?.close(); });

  describe('constructor', () => {
    it('should refuse a negative or fractional bound', () => {
      expect(() => new MemoryTransport({ maxLen: -1 })).to.throw(TransportError);
      expect(() => new MemoryTransport({ queueMaxLen: { q: 1.5 } })).to.throw(/q must be a non-negative integer/);
    });
  });

  describe('publish', () => {
    it('should make <ms>-<seq> ids that keep increasing when the clock stands still or goes back', async () => {
      const clock = fakeClock(1000);
      transport = new MemoryTransport({ now: clock.now });
      const a = await transport.publish('q', msgs(2));
      clock.set(500);
      const b = await transport.publish('q', msgs(1));
      clock.set(2000);
      const c = await transport.publish('q', msgs(1));
      expect([...a, ...b, ...c]).to.deep.equal(['1000-0', '1000-1', '1000-2', '2000-0']);
    });

    it('should refuse a message without fields and a value that is neither a string nor bytes', async () => {
      transport = new MemoryTransport();
      await expectRejection(transport.publish('q', [{}]), /at least one field/);
      await expectRejection(transport.publish('q', [{ n: 1 } as unknown as Fields]), /must be a string or a Buffer/);
      expect(await transport.backlog('q', 'g')).to.equal(0);
    });

    it('should store a plain Uint8Array as a Buffer copy', async () => {
      transport = new MemoryTransport();
      const bytes = new Uint8Array([1, 2, 3]);
      await transport.publish('q', [{ payload: bytes as Buffer }]);
      bytes[0] = 9;
      const [d] = await transport.consume('q', { group: 'g', consumer: 'c', count: 1, blockMs: 0 });
      expect(Buffer.isBuffer(d.fields.payload)).to.equal(true);
      expect([...(d.fields.payload as Buffer)]).to.deep.equal([1, 2, 3]);
    });

    it('should trim the oldest acknowledged messages beyond maxLen', async () => {
      transport = new MemoryTransport({ maxLen: 3 });
      await transport.consume('q', { group: 'g', consumer: 'c', count: 1, blockMs: 0 });
      const ids = await transport.publish('q', msgs(5));
      expect(transport.length('q')).to.equal(5, 'nothing acked yet: nothing dropped');
      const got = await transport.consume('q', { group: 'g', consumer: 'c', count: 10, blockMs: 0 });
      await transport.ack('q', 'g', [ids[0], ids[2], ids[3]]);
      expect(transport.length('q')).to.equal(3);
      // ids[1] is still pending, so ids[0] and ids[2] went; it survives and can be reclaimed.
      const back = await transport.reclaim('q', { group: 'g', consumer: 'c2', minIdleMs: 0, count: 10 });
      expect(back.map((d) => d.id)).to.deep.equal([ids[1], ids[4]]);
      expect(back[0].fields).to.deep.equal(got[1].fields);
      // A group that starts now sees what is retained.
      const late = await transport.consume('q', { group: 'late', consumer: 'c', count: 10, blockMs: 0 });
      expect(late.map((d) => d.id)).to.deep.equal([ids[1], ids[3], ids[4]]);
    });

    it('should keep every message that some group has not acknowledged, and everything while no group exists', async () => {
      transport = new MemoryTransport({ maxLen: 10, queueMaxLen: { small: 1 } });
      await transport.publish('small', msgs(4));
      expect(transport.length('small')).to.equal(4, 'no group yet');
      const all = await transport.consume('small', { group: 'g1', consumer: 'c', count: 10, blockMs: 0 });
      await transport.ack('small', 'g1', all.map((d) => d.id));
      await transport.publish('small', msgs(1));
      expect(transport.length('small')).to.equal(1, 'g1 settled the first four');
      await transport.consume('small', { group: 'g2', consumer: 'c', count: 10, blockMs: 0 });
      await transport.publish('small', msgs(2));
      expect(transport.length('small')).to.equal(3, 'g2 has not acked, g1 has not received the last two');
      expect(await transport.backlog('small', 'g1')).to.equal(3);
      expect(await transport.backlog('small', 'g2')).to.equal(3);
    });

    it('should keep a long queue trimmed when acks come in order', async () => {
      transport = new MemoryTransport({ maxLen: 100 });
      for (let round = 0; round < 50; round++) {
        await transport.publish('q', msgs(100));
        const got = await transport.consume('q', { group: 'g', consumer: 'c', count: 100, blockMs: 0 });
        await transport.ack('q', 'g', got.map((d) => d.id));
      }
      await transport.publish('q', msgs(1));
      expect(transport.length('q')).to.equal(100);
      expect(await transport.backlog('q', 'g')).to.equal(1);
    });
  });

  describe('consume', () => {
    it('should hand out copies, so changing a delivery does not change a redelivery', async () => {
      transport = new MemoryTransport();
      await transport.publish('q', [{ payload: Buffer.from('abc') }]);
      const [d] = await transport.consume('q', { group: 'g', consumer: 'c', count: 1, blockMs: 0 });
      (d.fields.payload as Buffer).fill(0);
      expect(() => { (d.fields as Record<string, unknown>).payload = 'x'; }).to.throw(TypeError);
      const [again] = await transport.reclaim('q', { group: 'g', consumer: 'c', minIdleMs: 0, count: 1 });
      expect((again.fields.payload as Buffer).toString()).to.equal('abc');
    });

    it('should clear its timer as soon as a message arrives', async () => {
      transport = new MemoryTransport();
      const before = await settledTimeouts();
      const waiting = transport.consume('q', { group: 'g', consumer: 'c', count: 1, blockMs: 60_000 });
      expect(timeouts()).to.equal(before + 1);
      await transport.publish('q', msgs(1));
      expect(await waiting).to.have.length(1);
      expect(timeouts()).to.equal(before);
    });

    it('should serve waiting consumers in arrival order, and every group', async () => {
      transport = new MemoryTransport();
      const w1 = transport.consume('q', { group: 'g', consumer: 'c1', count: 1, blockMs: 1000 });
      const w2 = transport.consume('q', { group: 'g', consumer: 'c2', count: 1, blockMs: 1000 });
      const other = transport.consume('q', { group: 'h', consumer: 'c1', count: 5, blockMs: 1000 });
      const ids = await transport.publish('q', msgs(2));
      expect((await w1).map((d) => d.id)).to.deep.equal([ids[0]]);
      expect((await w2).map((d) => d.id)).to.deep.equal([ids[1]]);
      expect((await other).map((d) => d.id)).to.deep.equal(ids);
    });

    it('should refuse a count that is not positive', async () => {
      transport = new MemoryTransport();
      await expectRejection(transport.consume('q', { group: 'g', consumer: 'c', count: 0, blockMs: 0 }), /count must be positive/);
    });
  });

  describe('reclaim', () => {
    it('should measure idle time on its clock, in id order', async () => {
      const clock = fakeClock();
      transport = new MemoryTransport({ now: clock.now });
      const ids = await transport.publish('q', msgs(3));
      await transport.consume('q', { group: 'g', consumer: 'a', count: 1, blockMs: 0 });
      clock.advance(10);
      await transport.consume('q', { group: 'g', consumer: 'b', count: 2, blockMs: 0 });
      clock.advance(20);
      const r = { group: 'g', consumer: 'z', minIdleMs: 30, count: 10 };
      expect((await transport.reclaim('q', r)).map((d) => d.id)).to.deep.equal([ids[0]]);
      clock.advance(10);
      expect((await transport.reclaim('q', r)).map((d) => d.id)).to.deep.equal([ids[1], ids[2]]);
    });
  });

  describe('touch', () => {
    it('should leave messages alone that another consumer owns', async () => {
      const clock = fakeClock();
      transport = new MemoryTransport({ now: clock.now });
      const [id] = await transport.publish('q', msgs(1));
      await transport.consume('q', { group: 'g', consumer: 'owner', count: 1, blockMs: 0 });
      clock.advance(100);
      await transport.touch('q', 'g', 'someone-else', [id]);
      await transport.touch('q', 'unknown-group', 'owner', [id]);
      const back = await transport.reclaim('q', { group: 'g', consumer: 'z', minIdleMs: 100, count: 1 });
      expect(back.map((d) => [d.id, d.deliveryCount])).to.deep.equal([[id, 2]]);
    });
  });

  describe('deadLetter', () => {
    it('should keep at most maxDeadLetters per queue, dropping the oldest', async () => {
      transport = new MemoryTransport({ maxDeadLetters: 2 });
      const ids = await transport.publish('q', msgs(3));
      for (const d of await transport.consume('q', { group: 'g', consumer: 'c', count: 3, blockMs: 0 })) {
        await transport.deadLetter('q', 'g', d, { code: 'WEFT_TEST', message: 'bad' });
      }
      expect((await transport.deadLetters('q')).map((d) => d.originalId)).to.deep.equal(ids.slice(1));
    });
  });

  describe('close', () => {
    it('should resolve every waiter, clear its timers, and refuse calls afterwards', async () => {
      transport = new MemoryTransport();
      const before = await settledTimeouts();
      const waiting = [1, 2, 3].map((i) => transport.consume(`q${i}`, { group: 'g', consumer: 'c', count: 1, blockMs: 60_000 }));
      expect(timeouts()).to.equal(before + 3);
      await transport.close();
      expect(await Promise.all(waiting)).to.deep.equal([[], [], []]);
      expect(timeouts()).to.equal(before);
      await transport.close();
      await expectRejection(transport.publish('q1', msgs(1)), /closed/);
      expect(() => transport.consume('q1', { group: 'g', consumer: 'c', count: 1, blockMs: 0 })).to.throw(TransportError);
    });
  });
});

async function expectRejection(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(TransportError);
    expect((e as Error).message).to.match(pattern);
    return;
  }
  expect.fail(`expected a rejection matching ${pattern}`);
}
