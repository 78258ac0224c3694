import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import { memoryPlugin } from '../../../plugins/memory';
import { ch, ChildTask, FanIn, ParentTask } from './fixtures/child-tasks';

describe('ctx.submit (child dispatch)', () => {
  let app: Weft;
  beforeEach(async () => {
    ch.reset();
    app = await Weft.create({ plugins: [memoryPlugin()], config: { logLevel: 'silent' } });
    await app.worker({ tasks: [ParentTask, ChildTask], concurrency: 8, blockMs: 50, retry: { initialDelayMs: 1, maxDelayMs: 5 }, retryPollMs: 10 });
  });
  afterEach(() => app.close());

  const fan = (count: number, childDeadlineMs = 0n, failOnce = false): FanIn =>
    Object.assign(new FanIn(), { count, childDeadlineMs, failOnce });

  it('should give children the parent execution, correlation, parent item and a deadline that never extends the parent one', async () => {
    const parentDeadline = Date.now() + 60_000;
    const h = await app.submit(ParentTask, fan(3, BigInt(parentDeadline + 3_600_000)), { businessKey: 'p-1', deadlineMs: parentDeadline, correlationId: 'corr-p' });
    expect((await h.result()).sum).to.equal(60);
    expect(ch.children.map((c) => c.n).sort()).to.deep.equal([1, 2, 3]);
    for (const c of ch.children) {
      expect(c.deadlineMs).to.equal(parentDeadline, 'the later deadline asked for is cut to the parent one');
      expect(c.executionId).to.equal(h.executionId);
      expect(c.correlationId).to.equal('corr-p');
    }
    expect(new Set(ch.children.map((c) => c.key)).size).to.equal(3, 'one key per lineage index');
  });

  it('should keep an earlier child deadline', async () => {
    const parentDeadline = Date.now() + 60_000;
    const early = parentDeadline - 30_000;
    await (await app.submit(ParentTask, fan(1, BigInt(early)), { businessKey: 'p-2', deadlineMs: parentDeadline })).result();
    expect(ch.children[0]!.deadlineMs).to.equal(early);
  });

  it('should not dispatch the children again when the parent is redelivered', async () => {
    const h = await app.submit(ParentTask, fan(4, 0n, true), { businessKey: 'p-3' });
    expect((await h.result()).sum).to.equal(100);
    expect(ch.parentRuns).to.deep.equal([[false, false, false, false], [true, true, true, true]], 'the retry found every child recorded');
    expect(ch.children).to.have.length(4, 'each child ran once');
  });
});
