import { expect } from 'chai';
import {
  eventsStream, subscribeWorkflowEvents, workflowEventEmitter, type WorkflowEvent,
} from '../../../core/events';
import { MemoryEventLog } from '../../../plugins/memory';

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
/** Counts timers once mocha has armed its own test timeout (it does so after the test function first returns). */
const settledTimeouts = async (): Promise<number> => {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return timeouts();
};
const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function collect(it: AsyncIterable<WorkflowEvent>, limit = 100): Promise<WorkflowEvent[]> {
  const out: WorkflowEvent[] = [];
  for await (const ev of it) {
    out.push(ev);
    if (out.length >= limit) break;
  }
  return out;
}

describe('WorkflowSubscription (memory event log)', () => {
  let log: MemoryEventLog;
  beforeEach(() => { log = new MemoryEventLog(); });
  afterEach(() => log.close());

  it('should give a late subscriber every event so far, then follow, and end after a terminal event', async () => {
    const emit = workflowEventEmitter(log);
    await emit('e1', { kind: 'step_started', step: 'a' });
    await emit('e1', { kind: 'progress', step: 'a', percent: 50 });
    const seen = collect(subscribeWorkflowEvents(log, 'e1'));
    await tick();
    await emit('e1', { kind: 'step_completed', step: 'a' });
    await emit('e1', { kind: 'workflow_completed' });
    await emit('e1', { kind: 'progress', percent: 99 }); // after the end: not seen
    expect((await seen).map((e) => e.kind)).to.deep.equal(['step_started', 'progress', 'step_completed', 'workflow_completed']);
  });

  it('should give two subscribers every event each', async () => {
    const emit = workflowEventEmitter(log);
    const a = collect(subscribeWorkflowEvents(log, 'e2'));
    const b = collect(subscribeWorkflowEvents(log, 'e2'));
    for (const p of [10, 20, 30]) await emit('e2', { kind: 'progress', percent: p });
    await emit('e2', { kind: 'workflow_failed', error: { code: 'X', message: 'y' } });
    const [ea, eb] = await Promise.all([a, b]);
    expect(ea.map((e) => e.percent ?? e.kind)).to.deep.equal([10, 20, 30, 'workflow_failed']);
    expect(eb).to.deep.equal(ea);
  });

  it('should skip entries that are not workflow events', async () => {
    await log.append(eventsStream('e3'), { junk: '1' });
    await workflowEventEmitter(log)('e3', { kind: 'workflow_cancelled' });
    expect((await collect(subscribeWorkflowEvents(log, 'e3'))).map((e) => e.kind)).to.deep.equal(['workflow_cancelled']);
  });

  it('should resume after afterId', async () => {
    const emit = workflowEventEmitter(log);
    await emit('e4', { kind: 'progress', percent: 1 });
    await emit('e4', { kind: 'progress', percent: 2 });
    await emit('e4', { kind: 'workflow_completed' });
    const [first] = await collect(subscribeWorkflowEvents(log, 'e4'), 1);
    const rest = await collect(subscribeWorkflowEvents(log, 'e4', { afterId: first!.id }));
    expect(rest.map((e) => e.percent ?? e.kind)).to.deep.equal([2, 'workflow_completed']);
  });

  it('should end at once on break, leaving no blocked read and no timer behind', async () => {
    const before = await settledTimeouts();
    const sub = subscribeWorkflowEvents(log, 'e5', { blockMs: 60_000 });
    const started = Date.now();
    const pending = sub.next(); // blocks: nothing there
    await tick();
    expect(timeouts()).to.be.greaterThan(before);
    await sub.return();
    expect((await pending).done).to.equal(true);
    expect(Date.now() - started).to.be.lessThan(1000);
    expect(timeouts()).to.equal(before);
    expect((await sub.next()).done).to.equal(true);
  });

  it('should end when its AbortSignal fires, promptly and without error', async () => {
    const ac = new AbortController();
    const started = Date.now();
    const seen = collect(subscribeWorkflowEvents(log, 'e6', { signal: ac.signal, blockMs: 60_000 }));
    await workflowEventEmitter(log)('e6', { kind: 'progress', percent: 5 });
    await tick();
    ac.abort();
    expect((await seen).map((e) => e.percent)).to.deep.equal([5]);
    expect(Date.now() - started).to.be.lessThan(1000);
    const already = subscribeWorkflowEvents(log, 'e6', { signal: ac.signal });
    expect((await already.next()).done).to.equal(true);
  });

  it('should refuse an empty execution id with a coded error', () => {
    expect(() => subscribeWorkflowEvents(log, '')).to.throw().with.property('code', 'WEFT_EVENT_LOG_INVALID_ARGUMENT');
    expect(() => subscribeWorkflowEvents(log, 'e', { afterId: 'x' })).to.throw().with.property('code', 'WEFT_EVENT_LOG_INVALID_ARGUMENT');
  });

  it('should end with the error of a failing read', async () => {
    await log.close();
    const sub = subscribeWorkflowEvents(log, 'e7');
    let err: unknown;
    try { await sub.next(); } catch (e) { err = e; }
    expect(err).to.have.property('code', 'WEFT_EVENT_LOG_CLOSED');
    expect((await sub.next()).done).to.equal(true);
  });
});
