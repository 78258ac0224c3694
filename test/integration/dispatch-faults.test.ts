/**
 * Durable dispatch under faults, with real processes and SIGKILL against the test Redis: duplicate
 * submits from two producers at once, producers killed mid-submit (inside the generic ledger's
 * gaps and at random times with the atomic Redis ledger), workers killed mid-task, and two
 * reconcilers racing over the same orphaned records. Each test has its own key prefix, deleted
 * afterwards, and kills every process it started.
 *
 * Every child runs JavaScript transpiled once per suite (see `test/helpers/transpiled.ts`): the
 * producer test alone starts about fifty processes.
 *
 * `FAULT_SEED=<n>` replays the random choices (kill points, chunk sizes) of an earlier run; the
 * seed in use is printed.
 */
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import type Redis from 'ioredis';
import { idempotencyKey } from '../../core/dispatch/idempotency';
import type { DispatchKey } from '../../core/dispatch/key';
import { EXECUTION_STEP, type TaskHandle } from '../../core/runtime/client';
import { taskDefinitionOf } from '../../core/tasks/definition';
import { Weft } from '../../core/runtime/weft';
import { redisPlugin } from '../../plugins/redis';
import { dispatchRecordKey } from '../../plugins/redis/dispatch-store';
import { streamKey } from '../../plugins/redis/streams-keys';
import { Child } from '../helpers/child';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { transpileFixtures, type TranspiledFixtures } from '../helpers/transpiled';
import { FAULT_QUEUE, FAULT_TASK, faultInput, FaultOut, FaultTask, sinkKeys } from './fixtures/fault-tasks';
import type { ProducerReport } from './fixtures/fault-producer';
import { prng } from '../helpers/prng';
import { sleep } from '../helpers/wait';

const REPO_ROOT = resolve(__dirname, '../..');
const FIXTURES = join(__dirname, 'fixtures');
const GROUP = 'weft';


const SEED = Number(process.env.FAULT_SEED ?? Math.floor(Math.random() * 2 ** 31));
const random = prng(SEED);
const randInt = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));

/** The dispatch record key the client derives for business key `bk` (default pipeline and step, lineage 0). */
function recordKeyOf(bk: string): DispatchKey {
  return {
    executionId: idempotencyKey({ pipeline: FAULT_TASK, step: EXECUTION_STEP, businessKey: bk, lineageIndex: 0 }),
    stepId: FAULT_TASK,
    idempotencyKey: idempotencyKey({ pipeline: FAULT_TASK, step: FAULT_TASK, businessKey: bk, lineageIndex: 0 }),
  };
}

/** Business keys `<label><i>` for i from 0 to count - 1, as the producer fixture makes them. */
const keysOf = (label: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${label}${i}`);

/** The square item i of any label must come back with. */
const squareOf = (i: number): string => {
  const { n } = faultInput('', i, 0);
  return (n * n).toString();
};

/** `{ PENDING: 3, ACKED: 57, none: 0 }`-style counts. */
function histogram(values: readonly (string | null | undefined)[]): Record<string, number> {
  const h: Record<string, number> = {};
  for (const v of values) h[v ?? 'none'] = (h[v ?? 'none'] ?? 0) + 1;
  return h;
}

/** A producer's report checked: every handle resolved, to the right square, computed by one of `workerPids` if given. */
function expectCorrectReport(report: ProducerReport, label: string, count: number, what: string, workerPids?: ReadonlySet<number>): void {
  expect(report.errors, `${what}: rejected handles`).to.deep.equal([]);
  expect(report.handles, `${what}: handles`).to.equal(count);
  expect(report.results, `${what}: results`).to.have.length(count);
  const seen = new Set<string>();
  for (const [key, square, pid] of report.results) {
    expect(key.startsWith(label), `${what}: unexpected key ${key}`).to.equal(true);
    const i = Number(key.slice(label.length));
    expect(square, `${what}: result of ${key}`).to.equal(squareOf(i));
    if (workerPids) expect(workerPids.has(pid), `${what}: ${key} computed by pid ${pid}, not a worker of this test`).to.equal(true);
    seen.add(key);
  }
  expect(seen.size, `${what}: distinct keys`).to.equal(count);
}

interface WorkerProc { readonly child: Child; readonly consumer: string }

describe('Durable dispatch under faults (real processes, SIGKILL, Redis)', function () {
  this.timeout(60_000);

  let redis: Redis;
  let compiled: TranspiledFixtures | undefined;
  let prefix = '';
  /** Set while a test is being torn down: a test that timed out must not start processes any more. */
  let over = false;
  const children = new Set<Child>();
  const apps: Weft[] = [];

  before(async function () {
    this.timeout(30_000);
    redis = await connectTestRedis(); // fails with one line when Redis is missing
    compiled = transpileFixtures(REPO_ROOT, ['fault-worker.ts', 'fault-producer.ts', 'fault-reconciler.ts'].map((f) => join(FIXTURES, f)));
    console.log(`      fault seed: ${SEED} (FAULT_SEED=${SEED} replays the chunk sizes and kill points)`);
  });

  beforeEach(() => {
    prefix = uniquePrefix('faults');
    over = false;
  });

  afterEach(async function () {
    over = true;
    if (this.currentTest?.state === 'failed') {
      // Children that ended by themselves (a crash), then the latest ones.
      const all = [...children];
      const shown = new Set([...all.filter((c) => c.exited && !c.killed), ...all.slice(-4)]);
      for (const c of shown) console.log(`--- ${c.name} (pid ${c.pid}) output ---\n${c.tail(2000)}`);
    }
    await Promise.all([...children].map((c) => c.kill('SIGKILL')));
    children.clear();
    await Promise.all(apps.splice(0).map((a) => a.close()));
    if (redis && prefix) await deletePrefix(redis, prefix);
  });

  after(async () => {
    over = true;
    await Promise.all([...children].map((c) => c.kill('SIGKILL')));
    compiled?.remove();
    redis?.disconnect();
  });

  // ---- processes ----

  function startChild(name: string, fixture: string, env: Record<string, string>): Child {
    if (over) throw new Error(`not starting ${name}: the test is over`);
    return Child.start(name, ['-r', 'reflect-metadata', compiled!.jsOf(join(FIXTURES, fixture))], {
      cwd: REPO_ROOT, env: { ...compiled!.env, REDIS_URL, WEFT_PREFIX: prefix, WEFT_LOG_LEVEL: 'error', ...env },
    }, children);
  }

  interface WorkerSettings { readonly concurrency: number; readonly visibilityMs: number; readonly reconcile: 'off' | readonly [idleMs: number, intervalMs: number] }

  async function startWorker(s: WorkerSettings): Promise<WorkerProc> {
    const child = startChild('worker', 'fault-worker.ts', {
      FAULT_CONCURRENCY: String(s.concurrency), FAULT_VISIBILITY_MS: String(s.visibilityMs),
      FAULT_RECONCILE: s.reconcile === 'off' ? 'off' : s.reconcile.join(','),
    });
    const [, , consumer] = await child.waitFor(/^FAULT_WORKER_READY (\d+) (\S+)$/);
    return { child, consumer: consumer! };
  }

  async function startProducer(name: string, env: Record<string, string>): Promise<Child> {
    const child = startChild(name, 'fault-producer.ts', env);
    await child.waitFor(/^FAULT_PRODUCER_READY /);
    return child;
  }

  async function producerReport(p: Child, timeoutMs = 30_000): Promise<ProducerReport> {
    const [, json] = await p.waitFor(/^FAULT_DONE (.*)$/, timeoutMs);
    return JSON.parse(json!) as ProducerReport;
  }

  /** An app in this process on the test's prefix: to read records, and to submit in the worker test. */
  async function openApp(): Promise<Weft> {
    const app = await Weft.create({ plugins: [redisPlugin({ url: REDIS_URL, prefix })], config: { logLevel: 'silent' } });
    apps.push(app);
    return app;
  }

  // ---- what Redis says ----

  /** The state of each business key's record (`null`: no record), in one pipeline. */
  async function statesOf(bks: readonly string[]): Promise<(string | null)[]> {
    const p = redis.pipeline();
    for (const bk of bks) p.hget(dispatchRecordKey(prefix, recordKeyOf(bk)), 'state');
    return (await p.exec())!.map(([err, v]) => {
      if (err) throw err;
      return v as string | null;
    });
  }

  /** Waits until every record is `ACKED` and the queue has nothing pending or unread. */
  async function untilSettled(app: Weft, bks: readonly string[], timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const states = await statesOf(bks);
      const open = bks.filter((_, i) => states[i] !== 'ACKED');
      if (open.length === 0 && await app.app.transport.backlog(FAULT_QUEUE, GROUP) === 0) return;
      if (Date.now() > end) {
        throw new Error(`not settled after ${timeoutMs} ms: states ${JSON.stringify(histogram(states))}, ` +
          `e.g. ${open.slice(0, 5).join(', ')}; backlog ${await app.app.transport.backlog(FAULT_QUEUE, GROUP)}`);
      }
      await sleep(100);
    }
  }

  /** Every record `ACKED`, read through the app's dispatch store. */
  async function expectAllAcked(app: Weft, bks: readonly string[]): Promise<void> {
    const records = await Promise.all(bks.map((bk) => app.app.dispatchStore.get(recordKeyOf(bk))));
    const states = records.map((r) => r?.state);
    expect(histogram(states), 'record states').to.deep.equal({ ACKED: bks.length });
  }

  /** Runs and effects per business key, from the task's sinks. */
  async function sinks(): Promise<{ runs: Map<string, number>; effects: Map<string, number>; totalRuns: number; totalEffects: number }> {
    const k = sinkKeys(prefix);
    const toMap = (h: Record<string, string>): Map<string, number> => new Map(Object.entries(h).map(([key, v]) => [key, Number(v)]));
    const runs = toMap(await redis.hgetall(k.runs));
    const effects = toMap(await redis.hgetall(k.effects));
    const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
    return { runs, effects, totalRuns: sum(runs), totalEffects: sum(effects) };
  }

  /** Per idempotency key: how many queue entries producers published, and how many crash recovery did. */
  async function publications(): Promise<Map<string, { original: number; recovered: number }>> {
    const out = new Map<string, { original: number; recovered: number }>();
    const entries = await redis.xrange(streamKey(prefix, FAULT_QUEUE), '-', '+');
    for (const [, flat] of entries) {
      let key = '';
      let recovered = false;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        if (flat[i] === 'idempotency_key') key = flat[i + 1]!;
        else if (flat[i] === 'recovered') recovered = flat[i + 1] === '1';
      }
      const c = out.get(key) ?? { original: 0, recovered: 0 };
      if (recovered) c.recovered++;
      else c.original++;
      out.set(key, c);
    }
    return out;
  }

  /** Deliveries pending on one consumer of the queue (read, not acked). */
  async function pendingOn(consumer: string): Promise<number> {
    const summary = await redis.xpending(streamKey(prefix, FAULT_QUEUE), GROUP) as [number, string | null, string | null, [string, string][] | null];
    const row = (summary[3] ?? []).find(([name]) => name === consumer);
    return row ? Number(row[1]) : 0;
  }

  // ---- the scenarios ----

  it('should run 500 items submitted twice at the same time by two producer processes exactly once, and resolve every handle of both', async function () {
    this.timeout(45_000);
    const N = 500;
    const label = 'dup-';
    const bks = keysOf(label, N);
    const app = await openApp();
    // Nothing is orphaned here: the reconciler is off, so that no recovery can hide a duplicate
    // send or cause one.
    const workers = await Promise.all([0, 1, 2].map(() => startWorker({ concurrency: 16, visibilityMs: 10_000, reconcile: 'off' })));
    const pids = new Set(workers.map((w) => w.child.pid));
    // The same keys in chunks of 25, A from the first, B from the last: each publishes part of
    // them and finds the rest recorded by the other, and they race on the chunks where they meet.
    const env = { FAULT_KEYS: label, FAULT_COUNT: String(N), FAULT_CHUNKS: Array(20).fill(25).join(','), FAULT_WORK_MS: '0,5', FAULT_AWAIT: '1' };
    const [a, b] = await Promise.all([startProducer('producer A', env), startProducer('producer B', { ...env, FAULT_ORDER: 'reverse' })]);
    a.send('go');
    b.send('go');
    const [ra, rb] = await Promise.all([producerReport(a), producerReport(b)]);
    await untilSettled(app, bks, 20_000);

    expectCorrectReport(ra, label, N, 'producer A', pids);
    expectCorrectReport(rb, label, N, 'producer B', pids);
    // Of each pair of submits exactly one published: the other found the record.
    expect(ra.deduplicated + rb.deduplicated, 'deduplicated submits of both producers').to.equal(N);
    const pubs = await publications();
    expect(pubs.size, 'items on the queue').to.equal(N);
    for (const bk of bks) expect(pubs.get(recordKeyOf(bk).idempotencyKey), `entries of ${bk}`).to.deep.equal({ original: 1, recovered: 0 });
    await expectAllAcked(app, bks);
    const s = await sinks();
    expect(s.totalRuns, 'executions').to.equal(N);
    for (const bk of bks) expect(s.runs.get(bk), `executions of ${bk}`).to.equal(1);
    expect(s.totalEffects, 'effects').to.equal(N);
    console.log(`      duplicate suppression: 2 producers x ${N} submits of the same keys at once, 3 workers; ` +
      `published A ${N - ra.deduplicated} / B ${N - rb.deduplicated}, deduplicated A ${ra.deduplicated} / B ${rb.deduplicated}; ` +
      `runs ${s.totalRuns}, effects ${s.totalEffects}, handles resolved ${ra.results.length + rb.results.length}`);
  });

  it('should end every item ACKED with its effect applied once when producers are SIGKILLed mid-submit (24 trials) and restarted', async function () {
    this.timeout(90_000); // 25 to 50 s on 2 cores shared with other test runs
    const ITEMS = 60;
    const TRIALS = 24;
    const IDLE_MS = 600;
    const app = await openApp();
    const workers = await Promise.all([0, 1, 2].map(() => startWorker({ concurrency: 16, visibilityMs: 5000, reconcile: [IDLE_MS, 150] })));
    const pids = new Set(workers.map((w) => w.child.pid));

    type Kind = 'afterCreate' | 'afterPublish' | 'random';
    interface Trial {
      readonly n: number;
      readonly kind: Kind;
      readonly label: string;
      readonly chunks: number[];
      /** Gap trials: the chunk (1-based) whose send stops in the gap. Random trials: the chunks submitted before the kill is timed. */
      readonly pauseAt: number;
      /** Random trials: how long after that the kill is sent, ms (chunks follow each other 4 ms apart). */
      readonly killDelayMs: number;
      recordedAtKill?: number;
      statesAtKill?: Record<string, number>;
      resubmitDeduplicated?: number;
    }
    const kinds: Kind[] = ['afterCreate', 'afterPublish', 'random'];
    const trials: Trial[] = Array.from({ length: TRIALS }, (_, n) => {
      const kind = kinds[n % 3]!;
      const chunks: number[] = [];
      for (let left = ITEMS; left > 0;) {
        const size = Math.min(left, kind === 'random' ? randInt(1, 10) : randInt(5, 25));
        chunks.push(size);
        left -= size;
      }
      return kind === 'random'
        ? { n, kind, label: `t${n}-`, chunks, pauseAt: randInt(0, Math.max(0, chunks.length - 3)), killDelayMs: randInt(0, 6) }
        : { n, kind, label: `t${n}-`, chunks, pauseAt: randInt(1, chunks.length), killDelayMs: 0 };
    });

    const runTrial = async (t: Trial): Promise<void> => {
      const bks = keysOf(t.label, ITEMS);
      const base = { FAULT_KEYS: t.label, FAULT_COUNT: String(ITEMS), FAULT_WORK_MS: '5,30' };
      // The restart producer boots alongside (booting is most of a trial's time); it submits only
      // once the first one is dead.
      const [p, r] = await Promise.all([
        startProducer(`producer ${t.n} (${t.kind})`, {
          ...base, FAULT_CHUNKS: t.chunks.join(','),
          ...(t.kind === 'random'
            ? { FAULT_CHUNK_GAP_MS: '4' }
            : { FAULT_LEDGER: 'store', FAULT_PAUSE: t.kind, FAULT_PAUSE_AT: String(t.pauseAt) }),
        }),
        startProducer(`restart ${t.n}`, { ...base, FAULT_AWAIT: '1' }),
      ]);
      p.send('go');
      if (t.kind === 'random') {
        await p.waitFor(t.pauseAt === 0 ? /^FAULT_SUBMITTING$/ : new RegExp(`^FAULT_SUBMITTED ${t.pauseAt} `));
        await sleep(t.killDelayMs);
      } else {
        await p.waitFor(new RegExp(`^FAULT_GAP ${t.kind} ${t.pauseAt}$`));
      }
      await p.kill('SIGKILL');
      const states = await statesOf(bks);
      t.statesAtKill = histogram(states);
      t.recordedAtKill = states.filter((s) => s !== null).length;

      // The restart: another producer process submits the same business keys again, all at once.
      r.send('go');
      const report = await producerReport(r);
      expectCorrectReport(report, t.label, ITEMS, `restart of trial ${t.n} (${t.kind})`, pids);
      t.resubmitDeduplicated = report.deduplicated;
      expect(report.deduplicated, `trial ${t.n}: resubmits that found a record`).to.equal(t.recordedAtKill);
    };

    // Six trials at a time, each with its own business keys, over the same workers.
    const queue = [...trials];
    await Promise.all(Array.from({ length: 6 }, async () => {
      for (let t = queue.shift(); t; t = queue.shift()) await runTrial(t);
    }));

    const all = trials.flatMap((t) => keysOf(t.label, ITEMS));
    await untilSettled(app, all, 20_000);
    await expectAllAcked(app, all);

    // Where each kill landed, proven by what reached the queue: an item of a chunk stopped after its
    // records were written (afterCreate) was never published by a producer, only by recovery; one
    // stopped after publishing (afterPublish) was published once; every other item exactly once,
    // by the killed producer or by the restart, never both.
    const pubs = await publications();
    let gapItems = 0;
    for (const t of trials) {
      const gapStart = t.chunks.slice(0, t.pauseAt - 1).reduce((a, b) => a + b, 0);
      const gapEnd = gapStart + t.chunks[t.pauseAt - 1]!;
      keysOf(t.label, ITEMS).forEach((bk, i) => {
        const inGap = t.kind === 'afterCreate' && i >= gapStart && i < gapEnd;
        const c = pubs.get(recordKeyOf(bk).idempotencyKey) ?? { original: 0, recovered: 0 };
        expect(c.original, `trial ${t.n} (${t.kind}): producer publications of ${bk}`).to.equal(inGap ? 0 : 1);
        if (inGap) {
          gapItems++;
          expect(c.recovered, `trial ${t.n}: recovery publications of ${bk}, left PENDING in the gap`).to.be.at.least(1);
        }
      });
    }

    const s = await sinks();
    expect(s.effects.size, 'items with an effect').to.equal(all.length);
    for (const bk of all) {
      expect(s.effects.get(bk), `effects of ${bk}`).to.equal(1);
      expect(s.runs.get(bk) ?? 0, `runs of ${bk}`).to.be.at.least(1);
    }
    const recovered = [...pubs.values()].reduce((a, c) => a + c.recovered, 0);
    const count = (k: Kind): number => trials.filter((t) => t.kind === k).length;
    const timed = trials.filter((t) => t.kind === 'random');
    const where = {
      none: timed.filter((t) => t.recordedAtKill === 0).length,
      partial: timed.filter((t) => t.recordedAtKill! > 0 && t.recordedAtKill! < ITEMS).length,
      all: timed.filter((t) => t.recordedAtKill === ITEMS).length,
    };
    const atKill = histogram(trials.flatMap((t) => Object.entries(t.statesAtKill!).flatMap(([k, n]) => Array<string>(n).fill(k))));
    console.log(`      producer SIGKILL: ${TRIALS} trials x ${ITEMS} items, ${TRIALS} kills (${count('afterCreate')} in the afterCreate gap, ` +
      `${count('afterPublish')} in the afterPublish gap, ${count('random')} at random times with the atomic ledger: ` +
      `${where.none} before any record, ${where.partial} mid-batch, ${where.all} after the whole batch); ` +
      `records at kill ${JSON.stringify(atKill)}; ${gapItems} items left PENDING unpublished; ` +
      `restarts deduplicated ${trials.reduce((a, t) => a + t.resubmitDeduplicated!, 0)}; recovery republished ${recovered}; ` +
      `runs ${s.totalRuns}, effects ${s.totalEffects} of ${all.length} items`);
  });

  it('should apply every effect once when workers are SIGKILLed mid-task and replaced', async function () {
    this.timeout(45_000);
    const N = 600;
    const KILLS = 4;
    const label = 'w-';
    const bks = keysOf(label, N);
    const app = await openApp();
    const settings: WorkerSettings = { concurrency: 8, visibilityMs: 1000, reconcile: [5000, 500] };
    const live: WorkerProc[] = await Promise.all([0, 1, 2].map(() => startWorker(settings)));
    const replacements: Promise<void>[] = [];

    const handles: TaskHandle<FaultOut>[] = [];
    const failures: unknown[] = [];
    let received = 0;
    // Submit at a steady pace (about 200/s, 50 to 150 ms of work each) so the run outlasts the kills.
    const submitting = (async () => {
      for (let i = 0; i < N; i += 30) {
        const inputs = Array.from({ length: Math.min(30, N - i) }, (_, k) => faultInput(`${label}${i + k}`, i + k, 50 + ((i + k) * 37) % 101));
        const batch = await app.submitMany(FaultTask, inputs, { businessKey: (input) => input.key });
        for (const h of batch) {
          handles.push(h);
          h.result().then(() => { received++; }, (e: unknown) => { failures.push(e); });
        }
        await sleep(150);
      }
    })();
    submitting.catch(() => undefined); // awaited below; a test that fails first must not leave it unhandled

    const kills: { pid: number; inFlight: number; receivedAtKill: number }[] = [];
    for (let k = 0; k < KILLS; k++) {
      await sleep(350);
      // A victim in the middle of tasks: one with several deliveries read and not acked.
      let victim: WorkerProc | undefined;
      const end = Date.now() + 10_000;
      while (!victim) {
        for (const w of live) if (await pendingOn(w.consumer) >= 3) { victim = w; break; }
        if (!victim) {
          if (Date.now() > end) throw new Error('no worker had tasks in flight to kill');
          await sleep(10);
        }
      }
      await sleep(randInt(5, 40)); // into the tasks it just started (they work 50 to 150 ms)
      await victim.child.kill('SIGKILL');
      live.splice(live.indexOf(victim), 1);
      const inFlight = await pendingOn(victim.consumer); // reclaimed only after the 1 s visibility timeout
      kills.push({ pid: victim.child.pid, inFlight, receivedAtKill: received });
      expect(inFlight, 'deliveries in flight on the killed worker').to.be.greaterThan(0);
      expect(received, 'the run is still going when a worker is killed').to.be.below(N);
      const replacement = startWorker(settings).then((w) => { live.push(w); });
      replacement.catch(() => undefined); // awaited below
      replacements.push(replacement);
    }

    await submitting;
    await Promise.all(replacements);
    const end = Date.now() + 30_000;
    while (received + failures.length < N && Date.now() < end) await sleep(50);
    expect(failures).to.deep.equal([]);
    expect(received, 'results received').to.equal(N);
    const outs = await Promise.all(handles.map((h) => h.result()));
    outs.forEach((o, i) => expect([o.key, o.square.toString()]).to.deep.equal([`${label}${i}`, squareOf(i)]));
    await untilSettled(app, bks, 20_000);
    await expectAllAcked(app, bks);

    const s = await sinks();
    expect(s.effects.size, 'items with an effect').to.equal(N);
    for (const bk of bks) expect(s.effects.get(bk), `effects of ${bk}`).to.equal(1);
    expect(s.totalEffects, 'effects').to.equal(N);
    // Delivery is at-least-once: the tasks the killed workers were running ran again elsewhere.
    expect(s.totalRuns, 'runs (the killed tasks ran again)').to.be.greaterThan(N);
    const rerunKeys = [...s.runs.values()].filter((n) => n > 1).length;
    console.log(`      worker SIGKILL: ${N} items, ${kills.length} kills (${kills.map((k) => `${k.inFlight} in flight after ${k.receivedAtKill} results`).join('; ')}), ` +
      `${kills.length} replacements; runs ${s.totalRuns} (${s.totalRuns - N} re-runs over ${rerunKeys} items), effects ${s.totalEffects}`);
  });

  it('should recover 200 orphaned PENDING records once each with two reconciler processes racing over them', async function () {
    this.timeout(40_000);
    const N = 200;
    // Long enough that a record claimed and republished is acked before it could look idle again.
    const IDLE_MS = 2500;
    const label = 'orphan-';
    const bks = keysOf(label, N);
    const app = await openApp();
    const workers = await Promise.all([0, 1].map(() => startWorker({ concurrency: 32, visibilityMs: 10_000, reconcile: 'off' })));
    const pids = new Set(workers.map((w) => w.child.pid));
    const reconcilers = [0, 1].map((i) => startChild(`reconciler ${i}`, 'fault-reconciler.ts', { FAULT_IDLE_MS: String(IDLE_MS), FAULT_INTERVAL_MS: '50' }));
    await Promise.all(reconcilers.map((r) => r.waitFor(/^FAULT_RECONCILER_READY /)));

    // A producer with the generic ledger, killed after writing the records and before publishing.
    const p = await startProducer('producer', {
      FAULT_KEYS: label, FAULT_COUNT: String(N), FAULT_WORK_MS: '10,30', FAULT_LEDGER: 'store', FAULT_PAUSE: 'afterCreate', FAULT_PAUSE_AT: '1',
    });
    p.send('go');
    await p.waitFor(/^FAULT_GAP afterCreate 1$/);
    await p.kill('SIGKILL');
    const killedAt = Date.now();
    expect(histogram(await statesOf(bks)), 'records left by the killed producer').to.deep.equal({ PENDING: N });
    expect(await redis.xlen(streamKey(prefix, FAULT_QUEUE)), 'entries on the queue').to.equal(0);

    // Both start their first round together, once every record is idle: they race for each one.
    await sleep(Math.max(0, killedAt + IDLE_MS + 50 - Date.now()));
    for (const r of reconcilers) r.send('go');
    await untilSettled(app, bks, 20_000);
    for (const r of reconcilers) r.send('stop');
    const stats = await Promise.all(reconcilers.map(async (r) => {
      const [, json] = await r.waitFor(/^FAULT_RECONCILER_STATS (.*)$/);
      return JSON.parse(json!) as { rounds: number; scanned: number; republished: number; lostRaces: number };
    }));

    await expectAllAcked(app, bks);
    // Every record was claimed by exactly one of them, and republished exactly once.
    expect(stats[0]!.republished + stats[1]!.republished, 'records republished by the two reconcilers').to.equal(N);
    const pubs = await publications();
    for (const bk of bks) expect(pubs.get(recordKeyOf(bk).idempotencyKey), `entries of ${bk}`).to.deep.equal({ original: 0, recovered: 1 });
    const s = await sinks();
    expect(s.totalRuns, 'runs').to.equal(N);
    for (const bk of bks) {
      expect(s.runs.get(bk), `runs of ${bk}`).to.equal(1);
      expect(s.effects.get(bk), `effects of ${bk}`).to.equal(1);
    }
    // Recovering a record that was never sent is not a redelivery: the attempt stays 0. The stored
    // result is the right one, computed by a worker of this test.
    const output = taskDefinitionOf(FaultTask).output.codec;
    const records = await Promise.all(bks.map((bk) => app.app.dispatchStore.get(recordKeyOf(bk))));
    records.forEach((r, i) => {
      expect(r!.attempt, `attempt of ${bks[i]}`).to.equal(0);
      const out = output.decode(r!.result!.bytes);
      expect([out.key, out.square.toString()], `stored result of ${bks[i]}`).to.deep.equal([bks[i], squareOf(i)]);
      expect(pids.has(out.pid), `${bks[i]} computed by pid ${out.pid}`).to.equal(true);
    });
    console.log(`      two reconcilers: ${N} orphaned PENDING records; reconciler A republished ${stats[0]!.republished} ` +
      `(${stats[0]!.lostRaces} lost races, ${stats[0]!.rounds} rounds), B ${stats[1]!.republished} (${stats[1]!.lostRaces} lost races, ${stats[1]!.rounds} rounds); ` +
      `runs ${s.totalRuns}, effects ${s.totalEffects}`);
  });
});
