import { expect } from 'chai';
import { MemoryEventLog } from '../../../plugins/memory';

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const settledTimeouts = async (): Promise<number> => {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return timeouts();
};

describe('MemoryEventLog', () => {
  it('should make <ms>-<seq> ids that keep increasing when the clock stands still or goes back', async () => {
    let t = 1000;
    const log = new MemoryEventLog({ now: () => t });
    const a = await log.append('s', { n: '1' });
    const b = await log.append('s', { n: '2' });
    t = 500;
    const c = await log.append('s', { n: '3' });
    t = 2000;
    const d = await log.append('s', { n: '4' });
    expect([a, b, c, d]).to.deep.equal(['1000-0', '1000-1', '1000-2', '2000-0']);
    expect((await log.read('s', '1000')).map((e) => e.id)).to.deep.equal(['1000-1', '1000-2', '2000-0']);
  });

  it('should drop a stream ttlMs after its last append', async () => {
    let t = 1000;
    const log = new MemoryEventLog({ now: () => t });
    await log.append('s', { n: '1' }, { ttlMs: 100 });
    t = 1050;
    await log.append('s', { n: '2' }, { ttlMs: 100 });
    t = 1140;
    expect(await log.read('s', '0')).to.have.length(2);
    t = 1151;
    expect(await log.read('s', '0')).to.deep.equal([]);
    expect(log.size).to.equal(0);
  });

  it('should keep the default retention and at most maxStreams streams', async () => {
    const log = new MemoryEventLog({ defaultMaxLen: 3, maxStreams: 2 });
    for (let i = 0; i < 5; i++) await log.append('a', { n: String(i) });
    expect((await log.read('a', '0')).map((e) => e.fields.n)).to.deep.equal(['2', '3', '4']);
    await log.append('b', { n: 'b' });
    await log.append('c', { n: 'c' });
    expect(log.size).to.equal(2);
    expect(await log.read('a', '0')).to.deep.equal([], 'the least recently appended stream goes first');
  });

  it('should compact trimmed entries, keeping reads right', async () => {
    const log = new MemoryEventLog();
    for (let i = 0; i < 5000; i++) await log.append('s', { n: String(i) }, { maxLen: 10 });
    const got = await log.read('s', '0');
    expect(got.map((e) => e.fields.n)).to.deep.equal(Array.from({ length: 10 }, (_, i) => String(4990 + i)));
  });

  it('should copy Buffers on append', async () => {
    const log = new MemoryEventLog();
    const b = Buffer.from('abc');
    await log.append('s', { b });
    b[0] = 0x7a;
    const [e] = await log.read('s', '0');
    expect(String(e!.fields.b)).to.equal('abc');
  });

  it('should end a blocking read with [] when its signal fires or the log closes, leaving no timer', async () => {
    const log = new MemoryEventLog();
    const before = await settledTimeouts();
    const ac = new AbortController();
    const started = Date.now();
    const aborted = log.read('s', '0', { blockMs: 60_000, signal: ac.signal } as never);
    const closed = log.read('t', '0', { blockMs: 60_000 });
    await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    expect(await aborted).to.deep.equal([]);
    await log.close();
    expect(await closed).to.deep.equal([]);
    expect(Date.now() - started).to.be.lessThan(1000);
    expect(timeouts()).to.equal(before);
    let err: unknown;
    try { await log.read('s', '0'); } catch (e) { err = e; }
    expect(err).to.have.property('code', 'WEFT_EVENT_LOG_CLOSED');
  });

  it('should refuse bad options', () => {
    expect(() => new MemoryEventLog({ defaultMaxLen: 0 })).to.throw().with.property('code', 'WEFT_EVENT_LOG_INVALID_ARGUMENT');
  });
});
