import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import type Redis from 'ioredis';
import { Weft } from '../../core/runtime/weft';
import type { TaskHandle } from '../../core/runtime/client';
import { redisPlugin } from '../../plugins/redis';
import { streamKey } from '../../plugins/redis/streams-keys';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { sinkKey, SquareIn, SquareOut, SquareTask } from './fixtures/tasks';
import { sleep, until } from '../helpers/wait';

const REPO_ROOT = resolve(__dirname, '../..');
const WORKER_SCRIPT = join(__dirname, 'fixtures', 'worker.ts');
const TOTAL = 2000;
const QUEUE = 'int-square';

/** A worker process started by this suite. */
interface WorkerProc {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Its consumer name in the group (`<host>-<pid>-<random>`), printed when ready. */
  readonly consumer: string;
  /** What it printed, for the failure report. */
  readonly output: string[];
}

const exited = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;

const inputOf = (i: number, workMs: number): SquareIn =>
  Object.assign(new SquareIn(), { n: BigInt(i) * 7919n, tag: `t${i}-${i % 13}`, workMs });

/** The result a correct execution of `input` returns (everything but the pid). */
function expectCorrect(input: SquareIn, out: SquareOut): void {
  expect(out).to.be.instanceOf(SquareOut);
  expect(out.n).to.equal(input.n);
  expect(out.square).to.equal(input.n * input.n);
  expect(out.tagReversed).to.equal([...input.tag].reverse().join(''));
}

/** Waits until `cond()` holds, polling; fails with `what` after `timeoutMs`. */

describe('Weft across real processes (Redis)', function () {
  this.timeout(60_000);

  const prefix = uniquePrefix('int');
  const children = new Set<WorkerProc>();
  let redis: Redis;
  let producer: Weft;

  /** Starts a worker process with only the Redis URL and the prefix, and waits until it consumes. */
  async function startWorker(): Promise<WorkerProc> {
    const child = spawn(process.execPath, ['-r', 'ts-node/register', '-r', 'reflect-metadata', WORKER_SCRIPT], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, REDIS_URL, WEFT_PREFIX: prefix, TS_NODE_TRANSPILE_ONLY: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const proc = { child, pid: child.pid!, consumer: '', output };
    children.add(proc);
    child.stderr!.on('data', (b: Buffer) => output.push(b.toString()));
    const ready = new Promise<string>((resolveReady, reject) => {
      let buffered = '';
      child.stdout!.on('data', (b: Buffer) => {
        const text = b.toString();
        output.push(text);
        buffered += text;
        const m = /WEFT_WORKER_READY (\d+) (\S+)\n/.exec(buffered);
        if (m) resolveReady(m[2]);
      });
      child.once('exit', (code, signal) => reject(new Error(`worker ${child.pid} exited (${code ?? signal}) before it was ready:\n${output.join('')}`)));
      child.once('error', reject);
      setTimeout(() => reject(new Error(`worker ${child.pid} not ready after 20 s:\n${output.join('')}`)), 20_000).unref();
    });
    return Object.assign(proc, { consumer: await ready });
  }

  /** SIGKILLs a worker and waits for it to be gone. */
  async function kill(w: WorkerProc): Promise<void> {
    if (exited(w.child)) return;
    const gone = once(w.child, 'exit');
    w.child.kill('SIGKILL');
    await gone;
  }

  /** Deliveries of the queue pending on one consumer (delivered, not acked). */
  async function pendingOf(consumer: string): Promise<number> {
    const summary = await redis.xpending(streamKey(prefix, QUEUE), 'weft') as [number, string | null, string | null, [string, string][] | null];
    const row = (summary[3] ?? []).find(([name]) => name === consumer);
    return row ? Number(row[1]) : 0;
  }

  before(async () => {
    redis = await connectTestRedis(); // fails with one line when Redis is missing
    producer = await Weft.create({ plugins: [redisPlugin({ url: REDIS_URL, prefix })], config: { logLevel: 'silent' } });
  });

  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const w of children) console.log(`--- worker ${w.pid} output ---\n${w.output.join('').slice(-4000)}`);
  });

  after(async () => {
    // Every child goes, even when a test failed: SIGTERM (graceful close), then SIGKILL after 3 s.
    await Promise.all([...children].map(async (w) => {
      if (exited(w.child)) return;
      const gone = once(w.child, 'exit');
      w.child.kill('SIGTERM');
      const hard = setTimeout(() => w.child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(hard);
    }));
    children.clear();
    await producer?.close();
    if (redis) {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  });

  it(`should return all ${TOTAL} correct results from two worker processes that know only REDIS_URL and the task module`, async () => {
    const [a, b] = await Promise.all([startWorker(), startWorker()]);
    const inputs = Array.from({ length: TOTAL }, (_, i) => inputOf(i, i % 3));
    const handles: TaskHandle<SquareOut>[] = [];
    for (let i = 0; i < TOTAL; i += 250) handles.push(...await producer.submitMany(SquareTask, inputs.slice(i, i + 250)));
    expect(handles).to.have.length(TOTAL);

    const outs = await Promise.all(handles.map((h) => h.result()));
    outs.forEach((out, i) => expectCorrect(inputs[i], out));
    const byPid = new Map<number, number>();
    for (const o of outs) byPid.set(o.pid, (byPid.get(o.pid) ?? 0) + 1);
    // Both worker processes did part of the work, and nothing ran in the producer.
    expect([...byPid.keys()].sort()).to.deep.equal([a.pid, b.pid].sort());
    expect(await producer.app.transport.backlog(QUEUE, 'weft')).to.equal(0);
    await redis.del(sinkKey(prefix));
  });

  it(`should lose none of ${TOTAL} tasks when a worker is SIGKILLed mid-run twice and restarted (duplicates counted)`, async () => {
    const alive = (): WorkerProc[] => [...children].filter((w) => !exited(w.child));
    // The two workers of the previous test, or new ones if it did not leave two running.
    while (alive().length < 2) await startWorker();
    // The two running workers are the victims, one after the other; each is replaced by a new
    // process started in the background, so a slow start (ts-node, a loaded machine) cannot let
    // the run finish before the second kill.
    const victims = alive().slice(0, 2);
    const restarts: Promise<WorkerProc>[] = [];

    const inputs = Array.from({ length: TOTAL }, (_, i) => inputOf(i, 20 + (i * 37) % 100)); // 20..119 ms of work
    const handles: TaskHandle<SquareOut>[] = [];
    const outs: (SquareOut | undefined)[] = new Array(TOTAL);
    const failures: unknown[] = [];
    let received = 0;
    const byPid = new Map<number, number>();

    // Submit at a steady pace (about 400/s) so that the run lasts long enough to kill in the middle of it.
    const submitting = (async () => {
      for (let i = 0; i < TOTAL; i += 40) {
        const batch = await producer.submitMany(SquareTask, inputs.slice(i, i + 40));
        batch.forEach((h, k) => {
          handles[i + k] = h;
          h.result().then((out) => {
            outs[i + k] = out;
            received++;
            byPid.set(out.pid, (byPid.get(out.pid) ?? 0) + 1);
          }, (e: unknown) => failures.push(e));
        });
        await sleep(100);
      }
    })();

    const kills: { pid: number; inFlight: number; receivedAtKill: number }[] = [];
    for (let round = 0; round < 2; round++) {
      const victim = victims[round]!;
      // Wait until the victim has done some of the work and holds deliveries in flight, then kill it.
      await until(async () => received >= 400 * (round + 1) && (byPid.get(victim.pid) ?? 0) >= 20 && await pendingOf(victim.consumer) >= 4,
        `worker ${victim.pid} to be busy`);
      await sleep(15); // let the tasks it just received start (they work 20 to 119 ms)
      await kill(victim);
      const inFlight = await pendingOf(victim.consumer); // nobody reclaims before the 1.5 s visibility timeout
      kills.push({ pid: victim.pid, inFlight, receivedAtKill: received });
      expect(received, 'the run is still going when the worker is killed').to.be.below(TOTAL);
      expect(inFlight, 'deliveries in flight on the killed worker').to.be.greaterThan(0);
      restarts.push(startWorker());
    }

    await Promise.all(restarts);
    await submitting;
    await until(() => received + failures.length === TOTAL, `all ${TOTAL} results (got ${received})`, 40_000);
    expect(failures).to.deep.equal([]);
    outs.forEach((out, i) => expectCorrect(inputs[i], out!));
    expect(await producer.app.transport.backlog(QUEUE, 'weft')).to.equal(0);
    expect(await producer.app.transport.deadLetters(QUEUE, 10)).to.deep.equal([]);

    // At-least-once: count executions per execution id, as recorded by the tasks themselves.
    const executed = await redis.lrange(sinkKey(prefix), 0, -1);
    const counts = new Map<string, number>();
    for (const id of executed) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const h of handles) expect(counts.get(h.executionId) ?? 0, `executions of ${h.executionId}`).to.be.at.least(1);
    const mine = new Set(handles.map((h) => h.executionId));
    const duplicated = [...counts].filter(([id, n]) => mine.has(id) && n > 1).map(([, n]) => n);
    const extra = duplicated.reduce((s, n) => s + n - 1, 0);
    console.log(`      kills: ${kills.map((k) => `pid ${k.pid} with ${k.inFlight} in flight after ${k.receivedAtKill} results`).join('; ')}`);
    console.log(`      duplicate executions: ${duplicated.length} of ${TOTAL} tasks ran more than once (${extra} extra runs, ${executed.length} runs in all)`);
  });
});
