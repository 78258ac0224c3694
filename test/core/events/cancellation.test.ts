import { expect } from 'chai';
import { broadcastCancellation, CancellationFeed, CONTROL_STREAM, type Cancellation } from '../../../core/events';
import { MemoryEventLog } from '../../../plugins/memory';
import { until } from '../../helpers/wait';

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
/** Counts timers once mocha has armed its own test timeout (it does so after the test function first returns). */
const settledTimeouts = async (): Promise<number> => {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return timeouts();
};
const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));


describe('CancellationFeed (memory event log)', () => {
  let log: MemoryEventLog;
  beforeEach(() => { log = new MemoryEventLog(); });
  afterEach(() => log.close());

  it('should learn of cancellations made before it started (ready) and after, each once', async () => {
    await broadcastCancellation(log, 'old', 'before');
    const feed = new CancellationFeed(log, { blockMs: 50 });
    const heard: Cancellation[] = [];
    const off = feed.onCancel((c) => heard.push(c));
    expect(await feed.ready()).to.equal(true);
    expect(feed.isCancelled('old')).to.equal(true);
    expect(feed.get('old')?.reason).to.equal('before');
    await broadcastCancellation(log, 'new', 'after');
    await broadcastCancellation(log, 'new', 'again');
    await until(() => feed.isCancelled('new'), 'the new cancellation');
    await tick(60);
    expect(heard.map((c) => c.executionId)).to.deep.equal(['old', 'new']);
    off();
    await feed.close();
  });

  it('should ignore entries of other kinds and malformed ones', async () => {
    await log.append(CONTROL_STREAM, { kind: 'pause', execution_id: 'x' });
    await log.append(CONTROL_STREAM, { kind: 'cancel' });
    await broadcastCancellation(log, 'ok');
    const feed = new CancellationFeed(log);
    const release = feed.acquire();
    await feed.ready();
    expect(feed.size).to.equal(1);
    expect(feed.isCancelled('ok')).to.equal(true);
    release();
    await feed.close();
  });

  it('should remember a bounded number of executions, the newest', () => {
    const feed = new CancellationFeed(log, { maxRemembered: 3 });
    for (let i = 0; i < 5; i++) feed.note({ executionId: `e${i}`, reason: '', atMs: i });
    expect(feed.size).to.equal(3);
    expect(feed.isCancelled('e0')).to.equal(false);
    expect(feed.isCancelled('e4')).to.equal(true);
  });

  it('should stop reading when the last holder lets go, leaving no timer, and resume where it stopped', async () => {
    const before = await settledTimeouts();
    const feed = new CancellationFeed(log, { blockMs: 10_000 });
    const release = feed.acquire();
    await feed.ready();
    await tick();
    expect(timeouts()).to.be.greaterThan(before); // the blocking read
    release();
    await tick();
    expect(timeouts()).to.equal(before);
    await broadcastCancellation(log, 'while-stopped');
    expect(feed.isCancelled('while-stopped')).to.equal(false);
    const again = feed.acquire();
    await until(() => feed.isCancelled('while-stopped'), 'the cancellation made while stopped');
    again();
    await feed.close();
    expect(timeouts()).to.equal(before);
  });

  it('should keep going after a listener throws', async () => {
    const feed = new CancellationFeed(log);
    const heard: string[] = [];
    const offA = feed.onCancel(() => { throw new Error('bad listener'); });
    const offB = feed.onCancel((c) => heard.push(c.executionId));
    feed.note({ executionId: 'x', reason: '', atMs: 0 });
    expect(heard).to.deep.equal(['x']);
    offA();
    offB();
    await feed.close();
  });

  it('should refuse to broadcast an empty execution id', async () => {
    let err: unknown;
    try { await broadcastCancellation(log, ''); } catch (e) { err = e; }
    expect(err).to.have.property('code', 'WEFT_EVENT_LOG_INVALID_ARGUMENT');
  });
});
