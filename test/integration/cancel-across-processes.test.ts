/**
 * Cancellation across machines, with real processes against the test Redis: the worker runs in a
 * child process that knows only the Redis URL and the prefix; this process submits and cancels.
 * The running task's `ctx.signal` fires in the child, the queued task of the same execution never
 * starts, both end as `WEFT_CANCELLED`, and the worker keeps running other executions.
 */
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import Redis from 'ioredis';
import { Weft } from '../../core/runtime/weft';
import { redisPlugin } from '../../plugins/redis';
import { Child } from '../helpers/child';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { transpileFixtures, type TranspiledFixtures } from '../helpers/transpiled';
import { WaitIn, WaitTask } from './fixtures/cancel-tasks';

const REPO_ROOT = resolve(__dirname, '../..');
const FIXTURES = join(__dirname, 'fixtures');
const wait = (sleepMs: number, label: string): WaitIn => Object.assign(new WaitIn(), { sleepMs, label });

describe('Cancellation across processes (real worker process, Redis)', function () {
  this.timeout(60_000);
  let redis: Redis;
  let compiled: TranspiledFixtures | undefined;
  let prefix = '';
  let app: Weft | undefined;
  const children = new Set<Child>();

  before(async function () {
    this.timeout(30_000);
    redis = await connectTestRedis();
    compiled = transpileFixtures(REPO_ROOT, [join(FIXTURES, 'cancel-worker.ts')]);
    prefix = uniquePrefix('cancelx');
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const c of children) console.log(`--- ${c.name} ---\n${c.tail(2000)}`);
  });

  after(async () => {
    await Promise.all([...children].map((c) => c.kill('SIGKILL')));
    await app?.close();
    compiled?.remove();
    if (redis && prefix) await deletePrefix(redis, prefix);
    redis?.disconnect();
  });

  it('aborts the running task in the other process, skips the queued one, and the worker goes on', async () => {
    const worker = Child.start('cancel worker', ['-r', 'reflect-metadata', compiled!.jsOf(join(FIXTURES, 'cancel-worker.ts'))], {
      cwd: REPO_ROOT, env: { ...compiled!.env, REDIS_URL, WEFT_PREFIX: prefix, WEFT_LOG_LEVEL: 'error' },
    }, children);
    await worker.waitFor(/^CANCEL_WORKER_READY /);
    app = await Weft.create({ plugins: [redisPlugin({ url: REDIS_URL, prefix })], config: { logLevel: 'silent' } });

    // One execution, two items; the worker runs one task at a time, so the first runs (30 s) and
    // the second waits behind it.
    const [running, queued] = await app.submitMany(WaitTask, [wait(30_000, 'a'), wait(30_000, 'b')], { businessKey: 'order-1' });
    const executionId = running!.executionId;
    await worker.waitFor(new RegExp(`^STARTED ${executionId} a`));
    const t0 = Date.now();
    await app.cancel(executionId, 'the customer withdrew');

    const outcomes = await Promise.all([running!, queued!].map((h) => h.result().then(() => 'finished', (e: { code?: string }) => e.code)));
    expect(outcomes).to.deep.equal(['WEFT_CANCELLED', 'WEFT_CANCELLED']);
    expect(Date.now() - t0).to.be.below(20_000); // long before the 30 s sleep would have ended
    await worker.waitFor(new RegExp(`^ABORTED ${executionId} WEFT_CANCELLED`));
    expect(worker.tail()).not.to.match(new RegExp(`STARTED ${executionId} b`)); // the queued item never ran

    // Both records ended FAILED_FINAL with the code; the worker runs another execution normally.
    for (const h of [running!, queued!]) {
      const rec = await app.app.dispatchStore.get({ executionId, stepId: 'canceltest.wait', idempotencyKey: h.idempotencyKey });
      expect(rec?.state).to.equal('FAILED_FINAL');
      expect(rec?.lastError?.code).to.equal('WEFT_CANCELLED');
    }
    const other = await app.submit(WaitTask, wait(10, 'c'), { businessKey: 'order-2' });
    expect((await other.result()).label).to.equal('c');
  });
});
