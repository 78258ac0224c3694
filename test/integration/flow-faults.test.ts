/**
 * Orchestrators under faults, with real processes and SIGKILL against the test Redis: orchestrator
 * A runs in a child process and is killed in the middle of a fan-out of 50 slow children; then
 * orchestrator B starts in another process. The flow completes, and every step's effect (counted in
 * a Redis hash keyed by the item's idempotency key) happened exactly once.
 */
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import Redis from 'ioredis';
import { Weft } from '../../core/runtime/weft';
import { stepKeyOf } from '../../core/workflow/messages';
import type { WorkflowState } from '../../core/workflow/store';
import { redisPlugin } from '../../plugins/redis';
import { Child } from '../helpers/child';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { transpileFixtures, type TranspiledFixtures } from '../helpers/transpiled';
import { FaultBatchIn, faultFlow, FaultSplit, FaultSquare, FaultSum, flowSinkKey, sink } from './fixtures/flow-fault-tasks';
import { sleep } from '../helpers/wait';

const REPO_ROOT = resolve(__dirname, '../..');
const FIXTURES = join(__dirname, 'fixtures');

describe('Orchestrators under faults (real processes, SIGKILL, Redis)', function () {
  this.timeout(90_000);
  let redis: Redis;
  let compiled: TranspiledFixtures | undefined;
  let prefix = '';
  const children = new Set<Child>();
  const apps: Weft[] = [];

  before(async function () {
    this.timeout(30_000);
    redis = await connectTestRedis();
    compiled = transpileFixtures(REPO_ROOT, [join(FIXTURES, 'flow-orchestrator.ts')]);
  });

  beforeEach(() => {
    prefix = uniquePrefix('flowfaults');
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') for (const c of children) console.log(`--- ${c.name} (pid ${c.pid}) ---\n${c.tail(2000)}`);
    await Promise.all([...children].map((c) => c.kill('SIGKILL')));
    children.clear();
    await Promise.all(apps.splice(0).map((a) => a.close()));
    sink.redis = undefined;
    if (redis && prefix) await deletePrefix(redis, prefix);
  });

  after(async () => {
    await Promise.all([...children].map((c) => c.kill('SIGKILL')));
    compiled?.remove();
    redis?.disconnect();
  });

  async function startOrchestrator(name: string): Promise<Child> {
    const child = Child.start(name, ['-r', 'reflect-metadata', compiled!.jsOf(join(FIXTURES, 'flow-orchestrator.ts'))], {
      cwd: REPO_ROOT, env: { ...compiled!.env, REDIS_URL, WEFT_PREFIX: prefix, WEFT_LOG_LEVEL: 'error', FLOW_VISIBILITY_MS: '1500' },
    }, children);
    await child.waitFor(/^FLOW_ORCH_READY /);
    return child;
  }

  const COUNT = 50;
  /** Where orchestrator A dies: predicates on the execution's state, polled every 10 ms. */
  const killPoints: { name: string; when: (s: WorkflowState) => boolean }[] = [
    { name: 'right after the fan-out\'s stage change (no child recorded yet)', when: (s) => s.stage === 1 && s.recorded === 0 },
    { name: 'mid fan-out (5 children recorded)', when: (s) => s.stage === 1 && s.recorded >= 5 },
    { name: 'near the fan-in (45 of 50 children recorded)', when: (s) => s.stage === 1 && s.recorded >= 45 },
  ];

  for (const point of killPoints) it(`SIGKILL of an orchestrator ${point.name}: another one finishes the flow, every effect exactly once`, async () => {
    // Workers and the starter live in this process; the orchestrators in children.
    const app = await Weft.create({ plugins: [redisPlugin({ url: REDIS_URL, prefix })], config: { logLevel: 'silent' } });
    apps.push(app);
    sink.redis = redis;
    sink.prefix = prefix;
    app.flows.register(faultFlow);
    await app.worker({ tasks: [FaultSplit, FaultSquare, FaultSum], concurrency: 8, blockMs: 100 });

    const a = await startOrchestrator('orchestrator A');
    const run = await app.flows.start(faultFlow, Object.assign(new FaultBatchIn(), { count: COUNT, childMs: 100 }), { businessKey: 'batch-1' });

    // Kill A while the fan-out is in flight: some children recorded, most not.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const s = await app.flows.state(run.executionId);
      if (s && s.status === 'RUNNING' && point.when(s)) break;
      if (Date.now() > deadline) throw new Error(`the fan-out never got going: ${JSON.stringify(s && { stage: s.stage, recorded: s.recorded })}`);
      await sleep(10);
    }
    await a.kill('SIGKILL');
    const atKill = await app.flows.state(run.executionId);
    expect(atKill?.status).to.equal('RUNNING');
    expect(atKill?.recorded, 'children recorded when A died').to.be.below(COUNT);

    await sleep(300); // replies pile up with nobody to read them
    await startOrchestrator('orchestrator B');
    const total = await run.result({ timeoutMs: 40_000 });
    expect(total.count).to.equal(COUNT);
    expect(total.sum).to.equal(Array.from({ length: COUNT }, (_, n) => BigInt(n * n)).reduce((x, y) => x + y, 0n));

    // Every step item ran its effect exactly once, and nothing else ran.
    const counts = await redis.hgetall(flowSinkKey(prefix));
    const expected = [
      stepKeyOf(faultFlow.name, 'flowfault.split', run.executionId, 0),
      ...Array.from({ length: COUNT }, (_, i) => stepKeyOf(faultFlow.name, 'flowfault.square', run.executionId, i)),
      stepKeyOf(faultFlow.name, 'flowfault.sum', run.executionId, 0),
    ];
    expect(Object.keys(counts).sort()).to.deep.equal([...expected].sort());
    const twice = Object.entries(counts).filter(([, n]) => n !== '1');
    expect(twice, 'effects that happened more than once').to.deep.equal([]);
    expect((await app.flows.state(run.executionId))?.status).to.equal('SUCCEEDED');
  });
});
