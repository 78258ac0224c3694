import assert from 'node:assert/strict';
import { rejection, text } from './assertions';
import { IsNotEmpty, Max } from 'class-validator';
import { Field } from '../../decorators/field';
import { Output } from '../../decorators/output';
import { Task } from '../../decorators/task';
import { ErrorCode } from '../errors';
import { DispatchErrorCode } from '../dispatch/errors';
import { idempotencyKey } from '../dispatch/idempotency';
import type { DispatchKey } from '../dispatch/key';
import type { DispatchLedger } from '../dispatch/ledger';
import { Reconciler, type ReconcileStats } from '../dispatch/reconciler';
import { FatalError, RetryableError } from '../dispatch/retry';
import { DispatchState } from '../dispatch/state';
import { StoreLedger } from '../dispatch/store-ledger';
import type { DispatchRecord } from '../dispatch/store';
import { Client, type SubmitOptions } from '../runtime/client';
import type { RuntimeTaskDefinition, TaskContext } from '../runtime/context';
import type { DeadLetterDetail, DeadLetterSummary } from '../runtime/dead-letters';
import { RuntimeErrorCode } from '../runtime/errors';
import type { Fields } from '../runtime/transport';
import type { Weft, WeftWorkerOptions } from '../runtime/weft';
import type { Worker } from '../runtime/worker';
import { taskDefinitionOf } from '../tasks/definition';
import { WireField } from '../tasks/wire';

/** What a parity factory hands back: two ready apps on one backend and a way to release them. */
export interface ParityBackend {
  /** The app the suite submits from. */
  readonly producer: Weft;
  /**
   * The app the suite runs workers on. It shares the producer's transport, schema store and
   * dispatch store (the same Redis prefix, the same in-process instances). It may be the producer
   * itself: a memory transport belongs to one app.
   */
  readonly worker: Weft;
  /**
   * Closes both apps and deletes what they stored (keys, streams). After it resolves nothing of the
   * backend may keep the Node.js event loop alive.
   */
  cleanup(): Promise<void>;
}

/** Makes a fresh {@link ParityBackend}. Called once per suite. */
export type ParityBackendFactory = () => Promise<ParityBackend>;

/** Tunables of {@link dispatchParity}. Every default keeps one backend's run to a few seconds. */
export interface DispatchParityOptions {
  /** Mocha timeout of each test, in ms. Default 20 000. */
  readonly timeoutMs?: number;
  /** Longest wait for something the suite expects to happen (a run, a state, a dead letter), ms. Default 8 000. */
  readonly waitMs?: number;
  /** How long the suite watches for something that must NOT happen (a second run), ms. Default 150. */
  readonly quietMs?: number;
  /**
   * First segment of every task name and queue the suite declares. Each suite instance adds an id of
   * its own, so several backends (or runs) may share a store. Default `parity`.
   */
  readonly namespace?: string;
}

/**
 * The wire fields of a first dispatch, exactly: what every transport must deliver to a worker (the
 * wire contract's fields plus `step_id` and `reply_to`). A message republished by crash recovery
 * adds `recovered`.
 */
export const PARITY_WIRE_FIELDS: readonly string[] = Object.freeze([
  WireField.SCHEMA_ID, WireField.TYPE, WireField.PAYLOAD, WireField.TASK, WireField.RESOLVER_ID, WireField.STRATEGY,
  WireField.CORRELATION_ID, WireField.EXECUTION_ID, WireField.IDEMPOTENCY_KEY, WireField.RETRY_ATTEMPT,
  WireField.DEADLINE_MS, WireField.DISPATCH_TS_MS, WireField.PARENT_ITEM_ID, WireField.TRACEPARENT,
  WireField.STEP_ID, WireField.REPLY_TO,
]);

/**
 * A pinned identity and its idempotency key, computed by hand from the rule documented on
 * `idempotencyKey` (SHA-256 over `weft.idempotency.v1\n11:weft.parity6:charge8:order-421:3`, first
 * 32 hex digits). Every backend must put exactly this key on the wire for this identity.
 */
export const PARITY_PINNED_IDENTITY = Object.freeze({
  pipeline: 'weft.parity', step: 'charge', businessKey: 'order-42', lineageIndex: 3,
  idempotencyKey: '70d0185376ac0710b3535b57082f8115',
});

/** The input of every parity task. */
@Output('weft.parity.Job')
export class ParityJob {
  /** The business key of the work, echoed in the outcome. */
  @Field(1, 'string') @IsNotEmpty() key!: string;
  /** How long the task works before it returns, ms. */
  @Field(2, 'uint32') @Max(1000) sleepMs!: number;
}

/** The output of every parity task. */
@Output('weft.parity.Outcome')
export class ParityOutcome {
  @Field(1, 'string') key!: string;
  /** How many runs of its task had started when this one started (1 for the first). */
  @Field(2, 'uint32') run!: number;
  /** `ctx.attempt` of the run. */
  @Field(3, 'uint32') attempt!: number;
  /** `ctx.idempotencyKey` of the run. */
  @Field(4, 'string') idempotencyKey!: string;
}

/** What a parity task records about each run, as it starts. */
interface RunRecord {
  readonly key: string;
  readonly attempt: number;
  readonly idempotencyKey: string;
  readonly correlationId: string;
  readonly executionId: string;
  readonly deadlineMs: number | undefined;
  readonly atMs: number;
}

type ParityTaskClass = new () => { run(input: ParityJob, ctx: TaskContext): Promise<ParityOutcome> };

/** A task declared for one test: its own name and queue, and the runs it saw. */
interface DeclaredTask {
  readonly cls: ParityTaskClass;
  readonly name: string;
  readonly queue: string;
  readonly def: RuntimeTaskDefinition;
  readonly runs: RunRecord[];
}

/** What a task does after recording its run; it may throw. */
type Behaviour = (input: ParityJob, ctx: TaskContext) => Promise<void>;

const GROUP = 'weft';
const { PENDING, SENT, ACKED, FAILED_RETRYABLE, FAILED_FINAL } = DispatchState;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let suiteCounter = 0;

/**
 * Registers a mocha suite that proves durable dispatch behaves the same on a backend as on every
 * other (seed 002, "dispatch parity across all transports"): duplicate suppression, replay after a
 * crash, retry exhaustion, deadlines, and the metadata a worker receives.
 *
 * @remarks
 * Call it at the top level of a mocha test file (it uses mocha's global `describe`, `it`, `before`,
 * `after` and `afterEach`). The suite creates the backend once with `factory` and releases it with
 * `cleanup()`. Each test declares task classes of its own (unique names and queues), starts the
 * workers it needs on `backend.worker` with tiny retry delays, and closes them when it ends.
 *
 * What it checks, per backend:
 * - duplicate dispatch: the same work submitted twice at once (from one producer, from two, or twice
 *   in one `submitMany`) runs once, both handles get the same result, one is `deduplicated`; a later
 *   submit gets the stored outcome without a run; other lineage indexes are other work;
 * - replay after a crash: a record left `PENDING` without its message (a producer that died between
 *   recording and publishing, via the `StoreLedger` `afterCreate` seam), a `SENT` record whose worker
 *   died, and a `FAILED_RETRYABLE` record whose retry is overdue are each run exactly once by the
 *   `Reconciler`, keeping the idempotency key and correlation id; the attempt is unchanged for
 *   `PENDING` and incremented for the other two; a delivery reclaimed from a dead worker runs once
 *   as attempt 1, and a reclaimed delivery of a finished item is acked without a run;
 * - retry exhaustion: a retryable failure runs `maxAttempts` times (attempts 0, 1, 2), ends
 *   `FAILED_FINAL` with its history and a dead letter carrying the diagnostics; a `FatalError`, an
 *   invalid payload and an undecodable payload are final at once;
 * - deadlines: a passed deadline fails at once without a run (`WEFT_DEADLINE_EXCEEDED`), a running
 *   task's `ctx.signal` fires at the deadline, retries stop at it, and recovery expires records past it;
 * - metadata: the worker receives exactly {@link PARITY_WIRE_FIELDS}, with the identity's values,
 *   the same on retries and recovery; the key of {@link PARITY_PINNED_IDENTITY} is the pinned one.
 *
 * The suite runs `Reconciler` rounds with `idleMs: 0` itself, so the workers it starts have their
 * own reconciler off (except the one test of the built-in reconciler).
 *
 * @example
 * ```ts
 * import { dispatchParity } from 'weft/core/testing';
 * import { Weft } from 'weft/core/runtime/weft';
 * import { myPlugin } from '../src/my-plugin';
 *
 * dispatchParity('my transport', async () => {
 *   const namespace = `parity-${Date.now()}`;
 *   const producer = await Weft.create({ plugins: [myPlugin({ namespace })], config: { logLevel: 'silent' } });
 *   const worker = await Weft.create({ plugins: [myPlugin({ namespace })], config: { logLevel: 'silent' } });
 *   return { producer, worker, cleanup: async () => { await worker.close(); await producer.close(); await dropNamespace(namespace); } };
 * });
 * ```
 *
 * @param name - Shown as the outer `describe` title.
 * @param factory - Makes the backend's producer and worker apps and their cleanup.
 * @param options - Timing and naming tunables; see {@link DispatchParityOptions}.
 */
export function dispatchParity(name: string, factory: ParityBackendFactory, options: DispatchParityOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const waitMs = options.waitMs ?? 8_000;
  const quietMs = options.quietMs ?? 150;
  const suiteId = `s${++suiteCounter}${process.pid.toString(36)}${Date.now().toString(36)}`;
  const namespace = `${options.namespace ?? 'parity'}.${suiteId}`;
  let taskCounter = 0;

  describe(name, function () {
    this.timeout(timeoutMs);
    let backend: ParityBackend | undefined;
    let workers: Worker[] = [];
    let peeks = 0;

    const b = (): ParityBackend => {
      assert.ok(backend, 'the parity backend factory failed; see the before-all hook');
      return backend;
    };
    const producer = (): Weft => b().producer;
    const workerApp = (): Weft => b().worker;

    before(async () => { backend = await factory(); });
    afterEach(async () => {
      const running = workers;
      workers = [];
      await Promise.all(running.map((w) => w.close()));
    });
    after(async () => { await backend?.cleanup(); });

    // ---- helpers ---------------------------------------------------------------------------------

    /** Declares a task of its own for one test: `behaviour` runs after the run is recorded. */
    const declare = (label: string, behaviour: Behaviour = async (input) => { if (input.sleepMs) await sleep(input.sleepMs); }): DeclaredTask => {
      const n = ++taskCounter;
      const taskName = `${namespace}.${label}${n}`;
      const queue = `${namespace}.${label}.${n}`;
      const runs: RunRecord[] = [];
      @Task(taskName, { queue, input: () => ParityJob, output: () => ParityOutcome })
      class ParityTask {
        async run(input: ParityJob, ctx: TaskContext): Promise<ParityOutcome> {
          runs.push({
            key: input.key, attempt: ctx.attempt, idempotencyKey: ctx.idempotencyKey, correlationId: ctx.correlationId,
            executionId: ctx.executionId, deadlineMs: ctx.deadlineMs, atMs: Date.now(),
          });
          const run = runs.length;
          await behaviour(input, ctx);
          return Object.assign(new ParityOutcome(), { key: input.key, run, attempt: ctx.attempt, idempotencyKey: ctx.idempotencyKey });
        }
      }
      const def = taskDefinitionOf(ParityTask) as unknown as RuntimeTaskDefinition;
      return { cls: ParityTask, name: taskName, queue, def, runs };
    };

    /** Starts a worker on the worker app: tiny retry delays, no reconciler of its own unless asked. */
    const startWorker = async (tasks: readonly DeclaredTask[], over: Partial<WeftWorkerOptions> = {}): Promise<Worker> => {
      const w = await workerApp().worker({
        concurrency: 4, blockMs: 50, group: GROUP, retryPollMs: 20, reconcile: false,
        retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
        ...over, tasks: tasks.map((t) => t.cls),
      });
      workers.push(w);
      return w;
    };

    let identities = 0;
    /** A business key, execution id and correlation id no other test (or run) uses. */
    const identity = (label: string): { businessKey: string; executionId: string; correlationId: string } => {
      const n = ++identities;
      return { businessKey: `${label}-${suiteId}-${n}`, executionId: `exec-${label}-${suiteId}-${n}`, correlationId: `corr-${label}-${suiteId}-${n}` };
    };

    const job = (key: string, sleepMs = 0): ParityJob => Object.assign(new ParityJob(), { key, sleepMs });

    /** The record key of work submitted with `businessKey` (and the task's name as pipeline and step). */
    const keyOf = (t: DeclaredTask, executionId: string, businessKey: string, lineageIndex = 0): DispatchKey => ({
      executionId, stepId: t.name, idempotencyKey: idempotencyKey({ pipeline: t.name, step: t.name, businessKey, lineageIndex }),
    });

    const record = (key: DispatchKey): Promise<DispatchRecord | undefined> => workerApp().app.dispatchStore.get(key);

    const until = async <T>(get: () => T | Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> => {
      const end = Date.now() + waitMs;
      for (;;) {
        const v = await get();
        if (ok(v)) return v;
        if (Date.now() > end) assert.fail(`timed out after ${waitMs} ms waiting for ${what} (last seen: ${show(v)})`);
        await sleep(10);
      }
    };

    const recordIn = (key: DispatchKey, state: DispatchState): Promise<DispatchRecord | undefined> =>
      until(() => record(key), (r) => r?.state === state, `record ${key.idempotencyKey} to be ${state}`);

    const runsOf = (t: DeclaredTask, n: number): Promise<RunRecord[]> =>
      until(() => t.runs, (r) => r.length >= n, `${n} run(s) of ${t.name}`);

    /** Every message of a queue, oldest first, read through a consumer group of its own. */
    const peekAll = async (queue: string): Promise<Fields[]> => {
      const group = `parity-peek-${++peeks}`;
      const out: Fields[] = [];
      for (;;) {
        const got = await workerApp().app.transport.consume(queue, { group, consumer: 'peek', count: 1000, blockMs: 0 });
        if (got.length === 0) return out;
        out.push(...got.map((d) => d.fields));
      }
    };

    const deadLettersOf = (queue: string, n: number): Promise<DeadLetterSummary[]> =>
      until(() => producer().deadLetters.list(queue), (l) => l.length >= n, `${n} dead letter(s) in ${queue}`);

    /**
     * One recovery round that treats every record as stalled. It starts a few ms late: a scan lists
     * records with `updatedAtMs < now - idleMs`, so one updated in the current millisecond is not idle yet.
     */
    const reconcileOnce = async (): Promise<ReconcileStats> => {
      await sleep(3);
      return new Reconciler({
        store: workerApp().app.dispatchStore, republish: (rs) => workerApp().ledger.republish(rs), idleMs: 0,
      }).runOnce();
    };

    /** A client of its own on the producer's connection, with `ledger` in place of the app's. */
    const withClient = async <T>(ledger: DispatchLedger, fn: (c: Client) => Promise<T>): Promise<T> => {
      const p = producer();
      const client = new Client({ transport: p.app.transport, schemas: p.registry, logger: p.app.logger.child({ component: 'parity' }), ledger }, { replyBlockMs: 50 });
      try {
        return await fn(client);
      } finally {
        await client.close();
      }
    };

    /**
     * A producer that dies between recording the item and publishing it: the `StoreLedger`
     * `afterCreate` seam throws, leaving a `PENDING` record with the real envelope and no message.
     */
    const crashAfterRecord = async (t: DeclaredTask, input: ParityJob, opts: SubmitOptions<ParityJob>): Promise<void> => {
      const p = producer();
      const ledger = new StoreLedger(p.app.dispatchStore, p.app.transport, {
        pauses: { afterCreate: async () => { throw new Error('simulated crash after the record was created'); } },
      });
      await withClient(ledger, (c) => assert.rejects(c.submit(t.def, input, { ...opts, awaitResult: false }), /simulated crash/));
    };

    /** The app's ledger, with every published item's fields changed by `change` (a message damaged in transit). */
    const tampering = (change: (f: Fields) => Fields): DispatchLedger => {
      const real = producer().ledger;
      return {
        name: `tampered ${real.name}`,
        send: (q, items, now) => real.send(q, items.map((i) => ({ ...i, fields: change(i.fields) })), now),
        inspect: (keys) => real.inspect(keys),
        complete: (q, g, acks, now) => real.complete(q, g, acks, now),
        fail: (q, g, f, now) => real.fail(q, g, f, now),
        redeliverDue: (q, now, limit) => real.redeliverDue(q, now, limit),
        republish: (rs) => real.republish(rs),
      };
    };

    const inspectOnly = async (queue: string): Promise<DeadLetterDetail> => {
      const [dl] = await deadLettersOf(queue, 1);
      return producer().deadLetters.inspect(queue, dl!.id);
    };

    /** `[from, to, attempt]` of each history entry. */
    const path = (r: DispatchRecord | undefined): [string, string, number][] => (r?.history ?? []).map((h) => [h.from, h.to, h.attempt]);

    // ---- 1. duplicate dispatch -------------------------------------------------------------------

    describe('duplicate dispatch', () => {
      it('should run work submitted twice at once only once, resolve both handles to the same result and mark one deduplicated', async () => {
        const t = declare('dup');
        await startWorker([t]);
        const id = identity('dup');
        const input = job(id.businessKey, 100);
        const opts = { businessKey: id.businessKey };
        const [a, b2] = await Promise.all([producer().submit(t.cls, input, opts), producer().submit(t.cls, input, opts)]);
        assert.equal([a, b2].filter((h) => h.deduplicated).length, 1, 'exactly one of the two submits is deduplicated');
        assert.equal(a.idempotencyKey, b2.idempotencyKey);
        assert.equal(a.executionId, b2.executionId);
        const [ra, rb] = await Promise.all([a.result(), b2.result()]);
        assert.deepEqual(rb, ra, 'both handles resolve to the same result');
        assert.equal(ra.run, 1);
        assert.equal(ra.key, id.businessKey);
        await sleep(quietMs);
        assert.equal(t.runs.length, 1, 'the effect ran once');
        assert.equal((await peekAll(t.queue)).length, 1, 'one message was published');
        const r = await recordIn({ executionId: a.executionId, stepId: t.name, idempotencyKey: a.idempotencyKey }, ACKED);
        assert.equal(r?.attempt, 0);

        const c = await producer().submit(t.cls, input, opts);
        assert.equal(c.deduplicated, true, 'a submit after completion is a duplicate');
        assert.deepEqual(await c.result(), ra, 'it resolves to the stored result');
        await sleep(quietMs);
        assert.equal(t.runs.length, 1, 'a submit after completion does not run again');
        assert.equal((await peekAll(t.queue)).length, 1, 'a submit after completion publishes nothing');
      });

      it('should let a second producer follow work in flight without running it again', async () => {
        const t = declare('follow');
        await startWorker([t]);
        const id = identity('follow');
        const input = job(id.businessKey, 300);
        const first = await producer().submit(t.cls, input, { businessKey: id.businessKey });
        await runsOf(t, 1);
        const second = await workerApp().submit(t.cls, input, { businessKey: id.businessKey });
        assert.equal(first.deduplicated, false);
        assert.equal(second.deduplicated, true);
        const [r1, r2] = await Promise.all([first.result(), second.result()]);
        assert.deepEqual(r2, r1);
        await sleep(quietMs);
        assert.equal(t.runs.length, 1);
      });

      it('should publish the same work once when one submitMany batch carries it twice', async () => {
        const t = declare('batch');
        await startWorker([t]);
        const id = identity('batch');
        const other = identity('batch');
        const handles = await producer().submitMany(t.cls, [job(id.businessKey, 50), job(other.businessKey), job(id.businessKey, 50)],
          { businessKey: (input) => input.key });
        assert.deepEqual(handles.map((h) => h.deduplicated), [false, false, true]);
        assert.equal(handles[0]!.idempotencyKey, handles[2]!.idempotencyKey);
        const results = await Promise.all(handles.map((h) => h.result()));
        assert.deepEqual(results[2], results[0]);
        assert.equal(results[1]!.key, other.businessKey);
        await sleep(quietMs);
        assert.deepEqual(t.runs.map((r) => r.key).sort(), [id.businessKey, other.businessKey].sort(), 'each distinct item ran once');
        assert.equal((await peekAll(t.queue)).length, 2, 'two messages for two distinct items');
      });

      it('should treat the same business key at another lineage index as other work', async () => {
        const t = declare('lineage');
        await startWorker([t]);
        const id = identity('lineage');
        const input = job(id.businessKey);
        const h0 = await producer().submit(t.cls, input, { businessKey: id.businessKey, lineageIndex: 0 });
        const h1 = await producer().submit(t.cls, input, { businessKey: id.businessKey, lineageIndex: 1 });
        assert.deepEqual([h0.deduplicated, h1.deduplicated], [false, false]);
        assert.notEqual(h0.idempotencyKey, h1.idempotencyKey);
        assert.equal(h0.executionId, h1.executionId, 'one business key, one execution');
        const [r0, r1] = await Promise.all([h0.result(), h1.result()]);
        assert.deepEqual([r0.idempotencyKey, r1.idempotencyKey], [h0.idempotencyKey, h1.idempotencyKey]);
        assert.equal(t.runs.length, 2);
      });
    });

    // ---- 2. replay after a crash -----------------------------------------------------------------

    describe('replay after a crash', () => {
      it('should run a record left PENDING without its message exactly once, at attempt 0, with its idempotency key and correlation id', async () => {
        const t = declare('pending');
        const id = identity('pending');
        const key = keyOf(t, id.executionId, id.businessKey);
        await crashAfterRecord(t, job(id.businessKey), id);
        const left = await record(key);
        assert.equal(left?.state, PENDING, 'the crash left the record PENDING');
        assert.equal(left.correlationId, id.correlationId);
        assert.equal((await peekAll(t.queue)).length, 0, 'the crash left no message');

        await startWorker([t]);
        await sleep(quietMs);
        assert.equal(t.runs.length, 0, 'nothing runs before recovery');
        const stats = await reconcileOnce();
        assert.ok(stats.republished >= 1, `the reconciler republished the record (${show(stats)})`);
        const done = await recordIn(key, ACKED);
        const runs = await runsOf(t, 1);
        assert.deepEqual(runs.map((r) => [r.attempt, r.idempotencyKey, r.correlationId, r.executionId]),
          [[0, key.idempotencyKey, id.correlationId, id.executionId]], 'one run, at attempt 0, with the recorded identity');
        assert.equal(done?.attempt, 0, 'claiming a PENDING record does not count an attempt');
        assert.deepEqual(path(done), [[PENDING, SENT, 0], [SENT, ACKED, 0]]);

        const [sent] = await peekAll(t.queue);
        assert.equal(text(sent?.[WireField.RETRY_ATTEMPT]), '0');
        assert.equal(text(sent?.[WireField.RECOVERED]), '1', 'a recovered message is marked recovered');

        await reconcileOnce();
        await sleep(quietMs);
        assert.equal(t.runs.length, 1, 'an ACKED record is never replayed');
        const again = await producer().submit(t.cls, job(id.businessKey), id);
        assert.equal(again.deduplicated, true);
        assert.equal((await again.result()).idempotencyKey, key.idempotencyKey);
        assert.equal(t.runs.length, 1);
      });

      it('should redeliver a SENT record whose worker died as attempt + 1, exactly once', async () => {
        const t = declare('stalled');
        const id = identity('stalled');
        const key = keyOf(t, id.executionId, id.businessKey);
        const h = await producer().submit(t.cls, job(id.businessKey), id);
        // A worker takes the message and dies: it stays pending in the group, never acked.
        const taken = await workerApp().app.transport.consume(t.queue, { group: GROUP, consumer: 'parity-dead-worker', count: 10, blockMs: 0 });
        assert.equal(taken.length, 1);
        assert.equal((await record(key))?.state, SENT);

        await reconcileOnce();
        const claimed = await record(key);
        assert.equal(claimed?.state, SENT);
        assert.equal(claimed.attempt, 1, 'a stalled SENT record is redelivered as attempt + 1');
        assert.deepEqual(path(claimed).slice(-2), [[SENT, FAILED_RETRYABLE, 0], [FAILED_RETRYABLE, SENT, 1]]);
        assert.equal(claimed.history[claimed.history.length - 2]?.error?.code, DispatchErrorCode.STALLED);

        await startWorker([t]); // the dead worker's delivery is not reclaimable yet (30 s visibility timeout)
        const out = await h.result();
        assert.equal(out.attempt, 1);
        await sleep(quietMs);
        assert.deepEqual(t.runs.map((r) => [r.attempt, r.idempotencyKey, r.correlationId]), [[1, key.idempotencyKey, id.correlationId]]);
        const done = await recordIn(key, ACKED);
        assert.equal(done?.attempt, 1);

        // The dead worker's delivery comes back (a worker with a short visibility timeout reclaims it):
        // the item is finished, so it is acked without a run.
        await startWorker([t], { visibilityTimeoutMs: 100 });
        await until(() => workerApp().app.transport.backlog(t.queue, GROUP), (n) => n === 0, 'the reclaimed delivery to be acked');
        assert.equal(t.runs.length, 1, 'a reclaimed delivery of a finished item does not run');
        assert.equal((await record(key))?.state, ACKED);
      });

      it('should redeliver a FAILED_RETRYABLE record whose retry is overdue (its schedule lost) as attempt + 1, exactly once', async () => {
        const t = declare('lost', async (_input, ctx) => {
          if (ctx.attempt === 0) throw new RetryableError('the first attempt fails', { code: 'PARITY_FLAKY' });
        });
        // The worker schedules the retry a minute away: as good as lost for this test.
        await startWorker([t], { retry: { maxAttempts: 3, initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none' } });
        const id = identity('lost');
        const key = keyOf(t, id.executionId, id.businessKey);
        const h = await producer().submit(t.cls, job(id.businessKey), id);
        const failed = await recordIn(key, FAILED_RETRYABLE);
        assert.equal(failed?.attempt, 0);
        assert.equal(failed.lastError?.code, 'PARITY_FLAKY');

        await reconcileOnce();
        const out = await h.result();
        assert.equal(out.attempt, 1);
        await sleep(quietMs);
        assert.deepEqual(t.runs.map((r) => [r.attempt, r.idempotencyKey, r.correlationId]),
          [[0, key.idempotencyKey, id.correlationId], [1, key.idempotencyKey, id.correlationId]]);
        const done = await recordIn(key, ACKED);
        assert.deepEqual(path(done), [[PENDING, SENT, 0], [SENT, FAILED_RETRYABLE, 0], [FAILED_RETRYABLE, SENT, 1], [SENT, ACKED, 1]]);
      });

      it('should run a delivery reclaimed from a dead worker once, counting it as an attempt', async () => {
        const t = declare('reclaim');
        const id = identity('reclaim');
        const key = keyOf(t, id.executionId, id.businessKey);
        const h = await producer().submit(t.cls, job(id.businessKey), id);
        const taken = await workerApp().app.transport.consume(t.queue, { group: GROUP, consumer: 'parity-dead-worker', count: 10, blockMs: 0 });
        assert.equal(taken.length, 1);
        await startWorker([t], { visibilityTimeoutMs: 150 });
        const out = await h.result();
        assert.equal(out.attempt, 1, 'the reclaimed delivery is attempt 1');
        await sleep(quietMs);
        assert.deepEqual(t.runs.map((r) => [r.attempt, r.idempotencyKey, r.correlationId]), [[1, key.idempotencyKey, id.correlationId]]);
        // A reclaim is a true redelivery: the record takes the attempt with its ACKED transition.
        const done = await recordIn(key, ACKED);
        assert.equal(done?.attempt, 1, 'the record shows the attempt that ran');
        assert.equal(done?.history[done.history.length - 1]?.attempt, 1, 'so does the ACKED history entry');
        assert.equal(await workerApp().app.transport.backlog(t.queue, GROUP), 0, 'the reclaimed delivery is acked');
      });

      it("should recover a PENDING record with the worker's own reconciler", async () => {
        const t = declare('builtin');
        const id = identity('builtin');
        const key = keyOf(t, id.executionId, id.businessKey);
        await crashAfterRecord(t, job(id.businessKey), id);
        await startWorker([t], { reconcile: { idleMs: 300, intervalMs: 50 } });
        await recordIn(key, ACKED);
        await sleep(quietMs);
        assert.deepEqual(t.runs.map((r) => [r.attempt, r.idempotencyKey, r.correlationId]), [[0, key.idempotencyKey, id.correlationId]]);
      });
    });

    // ---- 3. retry exhaustion ---------------------------------------------------------------------

    describe('retry exhaustion', () => {
      it('should run an always-retryable failure maxAttempts times (attempts 0, 1, 2), then end FAILED_FINAL with its history and a dead letter with diagnostics', async () => {
        const t = declare('exhaust', async (input, ctx) => {
          throw new RetryableError(`${input.key} is flaky (attempt ${ctx.attempt})`, { code: 'PARITY_FLAKY' });
        });
        const w = await startWorker([t]);
        const id = identity('exhaust');
        const key = keyOf(t, id.executionId, id.businessKey);
        const startMs = Date.now();
        const h = await producer().submit(t.cls, job(id.businessKey), id);
        const err = await rejection(h.result());
        assert.equal(codeOf(err), 'PARITY_FLAKY', 'the handle rejects with the error code');
        assert.match(String((err as Error).message), /is flaky \(attempt 2\)/);
        await sleep(quietMs);
        assert.deepEqual(t.runs.map((r) => r.attempt), [0, 1, 2], 'three runs, one attempt apart');
        assert.ok(t.runs.every((r) => r.idempotencyKey === key.idempotencyKey && r.correlationId === id.correlationId));

        const messages = await peekAll(t.queue);
        assert.deepEqual(messages.map((m) => text(m[WireField.RETRY_ATTEMPT])), ['0', '1', '2'], 'one message per attempt');

        const r = await recordIn(key, FAILED_FINAL);
        assert.equal(r?.attempt, 2);
        assert.equal(r.lastError?.code, 'PARITY_FLAKY');
        assert.match(r.lastError.message, /attempt 2/);
        assert.deepEqual(path(r), [
          [PENDING, SENT, 0], [SENT, FAILED_RETRYABLE, 0], [FAILED_RETRYABLE, SENT, 1],
          [SENT, FAILED_RETRYABLE, 1], [FAILED_RETRYABLE, SENT, 2], [SENT, FAILED_FINAL, 2],
        ]);
        for (const e of r.history.filter((x) => x.to === FAILED_RETRYABLE || x.to === FAILED_FINAL)) {
          assert.equal(e.error?.code, 'PARITY_FLAKY', 'each failed attempt is in the history with its error');
        }

        const dl = await inspectOnly(t.queue);
        assert.deepEqual(
          { code: dl.summary.code, attempt: dl.summary.attempt, idempotencyKey: dl.summary.idempotencyKey, executionId: dl.summary.executionId, correlationId: dl.summary.correlationId },
          { code: 'PARITY_FLAKY', attempt: 2, idempotencyKey: key.idempotencyKey, executionId: id.executionId, correlationId: id.correlationId });
        assert.match(dl.summary.message, /is flaky \(attempt 2\)/);
        const d = dl.diagnostics;
        assert.deepEqual(
          { worker: d.worker, attempts: d.attempts, final_reason: d.final_reason, task: d.task, execution_id: d.execution_id, step_id: d.step_id, idempotency_key: d.idempotency_key },
          { worker: w.consumer, attempts: '3', final_reason: 'exhausted', task: `${t.name}@1`, execution_id: id.executionId, step_id: t.name, idempotency_key: key.idempotencyKey });
        assert.match(d.stack ?? '', /is flaky \(attempt 2\)/, 'the dead letter carries the stack');
        const failedAt = Number(d.failed_at_ms);
        assert.ok(failedAt >= startMs && failedAt <= Date.now(), `failed_at_ms ${d.failed_at_ms} is the time of the last failure`);
        assert.ok(Number(d.first_dispatch_ts_ms) >= startMs && Number(d.first_dispatch_ts_ms) <= failedAt, 'first_dispatch_ts_ms is a dispatch time');
      });

      it('should name the dispatch time of attempt 0 as first_dispatch_ts_ms in the dead letter of an exhausted item', async () => {
        const t = declare('firstts', async () => { throw new RetryableError('always failing', { code: 'PARITY_FLAKY' }); });
        await startWorker([t], { retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 20, jitter: 'none' } });
        const id = identity('firstts');
        const h = await producer().submit(t.cls, job(id.businessKey), id);
        await rejection(h.result());
        const messages = await peekAll(t.queue);
        assert.equal(messages.length, 3);
        const firstSentAt = Number(text(messages[0]?.[WireField.DISPATCH_TS_MS]));
        const lastSentAt = Number(text(messages[2]?.[WireField.DISPATCH_TS_MS]));
        assert.ok(lastSentAt > firstSentAt, 'the retries were dispatched later than attempt 0');
        const dl = await inspectOnly(t.queue);
        assert.equal(Number(dl.diagnostics.first_dispatch_ts_ms), firstSentAt,
          `first_dispatch_ts_ms must be the dispatch time of attempt 0 (${firstSentAt}); ${lastSentAt} is the last redelivery's`);
      });

      it('should never retry a FatalError', async () => {
        const t = declare('fatal', async (input) => { throw new FatalError(`${input.key} can never succeed`); });
        await startWorker([t]);
        const id = identity('fatal');
        const key = keyOf(t, id.executionId, id.businessKey);
        const h = await producer().submit(t.cls, job(id.businessKey), id);
        assert.equal(codeOf(await rejection(h.result())), DispatchErrorCode.TASK_FATAL);
        await sleep(quietMs);
        assert.deepEqual(t.runs.map((r) => r.attempt), [0]);
        const r = await recordIn(key, FAILED_FINAL);
        assert.deepEqual(path(r), [[PENDING, SENT, 0], [SENT, FAILED_FINAL, 0]]);
        assert.equal(r?.lastError?.code, DispatchErrorCode.TASK_FATAL);
        const dl = await inspectOnly(t.queue);
        assert.equal(dl.summary.code, DispatchErrorCode.TASK_FATAL);
        assert.deepEqual([dl.diagnostics.attempts, dl.diagnostics.final_reason], ['1', 'fatal']);

        const again = await producer().submit(t.cls, job(id.businessKey), id);
        assert.equal(again.deduplicated, true, 'a resubmit of failed work is a duplicate');
        assert.equal(codeOf(await rejection(again.result())), DispatchErrorCode.TASK_FATAL, 'it rejects with the stored failure');
        await sleep(quietMs);
        assert.equal(t.runs.length, 1, 'and does not run again');
      });

      it('should retry a plain Error as WEFT_TASK_FAILED until attempts run out', async () => {
        const t = declare('plain', async () => { throw new Error('plain failure'); });
        await startWorker([t], { retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 20 } });
        const id = identity('plain');
        const h = await producer().submit(t.cls, job(id.businessKey), id);
        assert.equal(codeOf(await rejection(h.result())), RuntimeErrorCode.TASK_FAILED);
        await sleep(quietMs);
        assert.deepEqual(t.runs.map((r) => r.attempt), [0, 1]);
        const dl = await inspectOnly(t.queue);
        assert.deepEqual([dl.summary.code, dl.diagnostics.attempts, dl.diagnostics.final_reason], [RuntimeErrorCode.TASK_FAILED, '2', 'exhausted']);
      });

      for (const [what, code, payload] of [
        ['a payload that fails validation', ErrorCode.VALIDATION_FAILED,
          // key "k", sleepMs 5000: decodes, but breaks @Max(1000)
          Buffer.from([0x0a, 0x01, 0x6b, 0x10, 0x88, 0x27])],
        ['a payload that does not decode', ErrorCode.DECODE_ERROR, Buffer.from([0xff, 0xff, 0xff])],
      ] as const) {
        it(`should fail ${what} as final (${code}) without running the task`, async () => {
          const t = declare('bad');
          await startWorker([t]);
          const id = identity('bad');
          const key = keyOf(t, id.executionId, id.businessKey);
          const err = await withClient(tampering((f) => ({ ...f, [WireField.PAYLOAD]: payload })), async (c) => {
            const h = await c.submit<ParityJob, ParityOutcome>(t.def, job(id.businessKey), id);
            return rejection(h.result());
          });
          assert.equal(codeOf(err), code);
          const r = await recordIn(key, FAILED_FINAL);
          assert.deepEqual(path(r), [[PENDING, SENT, 0], [SENT, FAILED_FINAL, 0]]);
          assert.equal(r?.lastError?.code, code);
          const dl = await inspectOnly(t.queue);
          assert.deepEqual([dl.summary.code, dl.diagnostics.attempts, dl.diagnostics.final_reason], [code, '1', 'fatal']);
          assert.equal(t.runs.length, 0, 'the task never ran');
        });
      }
    });

    // ---- 4. deadlines ----------------------------------------------------------------------------

    describe('deadline', () => {
      it('should fail a dispatch whose deadline has passed at once, without running it: FAILED_FINAL with WEFT_DEADLINE_EXCEEDED, dead-lettered', async () => {
        const t = declare('expired');
        await startWorker([t]);
        const id = identity('expired');
        const key = keyOf(t, id.executionId, id.businessKey);
        const deadlineMs = Date.now() - 1000;
        const startMs = Date.now();
        const h = await producer().submit(t.cls, job(id.businessKey), { ...id, deadlineMs });
        assert.equal(codeOf(await rejection(h.result())), RuntimeErrorCode.DEADLINE_EXCEEDED);
        const elapsed = Date.now() - startMs;
        assert.ok(elapsed < 2000, `it failed at once (took ${elapsed} ms)`);
        const r = await recordIn(key, FAILED_FINAL);
        assert.deepEqual(path(r), [[PENDING, SENT, 0], [SENT, FAILED_FINAL, 0]], 'never retried');
        assert.equal(r?.lastError?.code, RuntimeErrorCode.DEADLINE_EXCEEDED);
        assert.equal(r.deadlineMs, deadlineMs);
        const dl = await inspectOnly(t.queue);
        assert.deepEqual([dl.summary.code, dl.diagnostics.attempts, dl.diagnostics.final_reason], [RuntimeErrorCode.DEADLINE_EXCEEDED, '1', 'deadline']);
        await sleep(quietMs);
        assert.equal(t.runs.length, 0, 'the task never ran');
      });

      it("should abort a running task's ctx.signal at its deadline", async () => {
        const seen: { atMs: number; code: unknown }[] = [];
        const t = declare('signal', async (_input, ctx) => {
          await new Promise<void>((resolve) => {
            const safety = setTimeout(resolve, 5000);
            ctx.signal.addEventListener('abort', () => { clearTimeout(safety); resolve(); }, { once: true });
          });
          seen.push({ atMs: Date.now(), code: codeOf(ctx.signal.reason) });
          if (ctx.signal.aborted) throw ctx.signal.reason;
        });
        await startWorker([t]);
        const id = identity('signal');
        const key = keyOf(t, id.executionId, id.businessKey);
        const deadlineMs = Date.now() + 1000;
        const h = await producer().submit(t.cls, job(id.businessKey), { ...id, deadlineMs });
        assert.equal(codeOf(await rejection(h.result())), RuntimeErrorCode.DEADLINE_EXCEEDED);
        assert.equal(t.runs.length, 1);
        assert.equal(t.runs[0]!.deadlineMs, deadlineMs, 'ctx.deadlineMs is the dispatch deadline');
        assert.equal(seen.length, 1);
        assert.equal(seen[0]!.code, RuntimeErrorCode.DEADLINE_EXCEEDED, 'the abort reason is WEFT_DEADLINE_EXCEEDED');
        const late = seen[0]!.atMs - deadlineMs;
        assert.ok(late >= -5 && late < 1000, `the signal fired at the deadline (${late} ms after it)`);
        const r = await recordIn(key, FAILED_FINAL);
        assert.equal(r?.lastError?.code, RuntimeErrorCode.DEADLINE_EXCEEDED);
        const dl = await inspectOnly(t.queue);
        assert.equal(dl.diagnostics.final_reason, 'deadline');
      });

      it('should stop retrying once the next attempt could not start before the deadline', async () => {
        const t = declare('retrydeadline', async () => { throw new RetryableError('still failing', { code: 'PARITY_FLAKY' }); });
        await startWorker([t], { retry: { maxAttempts: 1000, initialDelayMs: 20, maxDelayMs: 20, jitter: 'none' } });
        const id = identity('retrydeadline');
        const key = keyOf(t, id.executionId, id.businessKey);
        const deadlineMs = Date.now() + 1000;
        const h = await producer().submit(t.cls, job(id.businessKey), { ...id, deadlineMs });
        const code = codeOf(await rejection(h.result()));
        assert.ok(code === 'PARITY_FLAKY' || code === RuntimeErrorCode.DEADLINE_EXCEEDED, `rejected with ${String(code)}`);
        const r = await recordIn(key, FAILED_FINAL);
        await sleep(quietMs);
        assert.ok(t.runs.length >= 2, `it was retried before the deadline (${t.runs.length} runs)`);
        assert.ok(t.runs.every((x) => x.atMs < deadlineMs), 'no run started at or after the deadline');
        assert.deepEqual(t.runs.map((x) => x.attempt), t.runs.map((_, i) => i), 'attempts 0, 1, 2, ... one apart');
        assert.equal(r?.attempt, t.runs.length - 1 + (code === RuntimeErrorCode.DEADLINE_EXCEEDED ? 1 : 0));
        const dl = await inspectOnly(t.queue);
        assert.equal(dl.diagnostics.final_reason, 'deadline');
      });

      it('should expire a record past its deadline on recovery instead of republishing it', async () => {
        const t = declare('expirerecover');
        await startWorker([t]);
        const id = identity('expirerecover');
        const key = keyOf(t, id.executionId, id.businessKey);
        const deadlineMs = Date.now() + 50;
        await crashAfterRecord(t, job(id.businessKey), { ...id, deadlineMs });
        await sleep(Math.max(0, deadlineMs - Date.now()) + 20);
        const stats = await reconcileOnce();
        assert.ok(stats.expired >= 1, `the reconciler expired the record (${show(stats)})`);
        const r = await record(key);
        assert.equal(r?.state, FAILED_FINAL);
        assert.equal(r.lastError?.code, RuntimeErrorCode.DEADLINE_EXCEEDED);
        assert.deepEqual(path(r), [[PENDING, FAILED_FINAL, 0]]);
        await sleep(quietMs);
        assert.equal(t.runs.length, 0);
        assert.equal((await peekAll(t.queue)).length, 0, 'nothing was republished');
      });
    });

    // ---- 5. metadata -----------------------------------------------------------------------------

    describe('metadata', () => {
      it('should deliver exactly the wire fields of the contract, carrying the dispatch identity', async () => {
        const t = declare('meta');
        await startWorker([t]);
        const id = identity('meta');
        const pipeline = `${namespace}.pipeline`;
        const step = 'meta-step';
        const lineageIndex = 2;
        const deadlineMs = Date.now() + 60_000;
        const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        const before = Date.now();
        const h = await producer().submit(t.cls, job(id.businessKey), {
          businessKey: id.businessKey, pipeline, step, lineageIndex, executionId: id.executionId, correlationId: id.correlationId,
          deadlineMs, parentItemId: 'parent-1', traceparent,
        });
        const after = Date.now();
        const expectedKey = idempotencyKey({ pipeline, step, businessKey: id.businessKey, lineageIndex });
        assert.equal(h.idempotencyKey, expectedKey);
        assert.equal(h.executionId, id.executionId);
        const out = await h.result();
        assert.equal(out.idempotencyKey, expectedKey, 'ctx.idempotencyKey is the derived key');

        const [m, ...more] = await peekAll(t.queue);
        assert.ok(m, 'the message is in the queue');
        assert.equal(more.length, 0);
        assert.deepEqual(Object.keys(m).sort(), [...PARITY_WIRE_FIELDS].sort(), 'the message carries exactly the wire fields');
        const def = t.def;
        assert.deepEqual(textFields(m, PARITY_WIRE_FIELDS.filter((f) => f !== WireField.PAYLOAD && f !== WireField.DISPATCH_TS_MS && f !== WireField.REPLY_TO)), {
          schema_id: def.input.id, type: def.input.fullName, task: `${t.name}@1`, resolver_id: 'default', strategy: 'registry',
          correlation_id: id.correlationId, execution_id: id.executionId, idempotency_key: expectedKey, retry_attempt: '0',
          deadline_ms: String(deadlineMs), parent_item_id: 'parent-1', traceparent, step_id: step,
        });
        const ts = Number(text(m[WireField.DISPATCH_TS_MS]));
        assert.ok(ts >= before && ts <= after, `dispatch_ts_ms ${ts} is the submit time`);
        assert.notEqual(text(m[WireField.REPLY_TO]), '', 'reply_to names the waiting client');
        assert.ok(Buffer.isBuffer(m[WireField.PAYLOAD]), 'the payload arrives as bytes');
        assert.deepEqual({ ...def.input.codec.decode(m[WireField.PAYLOAD] as Buffer) as ParityJob }, { ...job(id.businessKey) });

        const [run] = t.runs;
        assert.deepEqual([run?.idempotencyKey, run?.correlationId, run?.executionId, run?.deadlineMs, run?.attempt],
          [expectedKey, id.correlationId, id.executionId, deadlineMs, 0]);
        const r = await recordIn({ executionId: id.executionId, stepId: step, idempotencyKey: expectedKey }, ACKED);
        assert.deepEqual([r?.correlationId, r?.deadlineMs, r?.queue], [id.correlationId, deadlineMs, t.queue]);
      });

      it('should keep the field names, identity and payload on retries and recovery, changing only retry_attempt and dispatch_ts_ms', async () => {
        const t = declare('metaretry', async (_input, ctx) => {
          if (ctx.attempt === 0) throw new RetryableError('the first attempt fails', { code: 'PARITY_FLAKY' });
        });
        const id = identity('metaretry');
        // Recovery: attempt 0 is taken by a worker that dies; the reconciler redelivers attempt 1.
        // Retry: a second item fails at attempt 0 and its retry is redelivered as attempt 1.
        const h = await producer().submit(t.cls, job(id.businessKey), id);
        await workerApp().app.transport.consume(t.queue, { group: GROUP, consumer: 'parity-dead-worker', count: 10, blockMs: 0 });
        await reconcileOnce();
        await startWorker([t]);
        assert.equal((await h.result()).attempt, 1);
        const id2 = identity('metaretry');
        const h2 = await producer().submit(t.cls, job(id2.businessKey), id2);
        assert.equal((await h2.result()).attempt, 1);

        const messages = await peekAll(t.queue);
        const names = [...PARITY_WIRE_FIELDS].sort();
        const byKey = (k: string): Fields[] => messages.filter((m) => text(m[WireField.EXECUTION_ID]) === k);
        const [sent, recovered] = byKey(id.executionId);
        const [first, retried] = byKey(id2.executionId);
        assert.ok(sent && recovered && first && retried, `four messages (got ${messages.length})`);
        assert.deepEqual(Object.keys(sent).sort(), names);
        assert.deepEqual(Object.keys(first).sort(), names);
        assert.deepEqual(Object.keys(retried).sort(), names, 'a retry carries the same field names');
        assert.deepEqual(Object.keys(recovered).sort(), [...names, WireField.RECOVERED].sort(), 'a recovered message adds only recovered');
        for (const [orig, again, attempt] of [[sent, recovered, '1'], [first, retried, '1']] as const) {
          const same = PARITY_WIRE_FIELDS.filter((f) => f !== WireField.RETRY_ATTEMPT && f !== WireField.DISPATCH_TS_MS);
          assert.deepEqual(textFields(again, same), textFields(orig, same), 'identity, correlation, deadline, trace and payload are kept');
          assert.equal(text(again[WireField.RETRY_ATTEMPT]), attempt);
          assert.ok(Number(text(again[WireField.DISPATCH_TS_MS])) >= Number(text(orig[WireField.DISPATCH_TS_MS])));
        }
        assert.equal(text(recovered[WireField.RECOVERED]), '1');
      });

      it('should put the pinned key of a pinned identity on the wire, the same on every backend', async () => {
        const t = declare('pinned');
        await startWorker([t]);
        const { pipeline, step, businessKey, lineageIndex, idempotencyKey: pinned } = PARITY_PINNED_IDENTITY;
        assert.equal(idempotencyKey({ pipeline, step, businessKey, lineageIndex }), pinned, 'idempotencyKey() follows the documented rule');
        const executionId = identity('pinned').executionId; // a fresh record; the key does not depend on it
        const h = await producer().submit(t.cls, job(businessKey), { pipeline, step, businessKey, lineageIndex, executionId });
        assert.equal(h.idempotencyKey, pinned);
        assert.equal((await h.result()).idempotencyKey, pinned);
        const [m] = await peekAll(t.queue);
        assert.equal(text(m?.[WireField.IDEMPOTENCY_KEY]), pinned);
        assert.equal((await record({ executionId, stepId: step, idempotencyKey: pinned }))?.state, ACKED);
      });
    });
  });
}

function codeOf(e: unknown): unknown {
  return (e as { code?: unknown } | null)?.code;
}

/** The named fields, as text (the payload as hex), for comparing messages across transports. */
function textFields(f: Fields, names: readonly string[]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const n of names) {
    const v = f[n];
    out[n] = n === WireField.PAYLOAD && v !== undefined ? Buffer.from(v as Buffer).toString('hex') : text(v);
  }
  return out;
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : Buffer.isBuffer(x) ? `<${x.length} bytes>` : x))?.slice(0, 300) ?? String(v);
  } catch {
    return String(v);
  }
}
