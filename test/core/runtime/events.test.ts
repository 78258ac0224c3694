import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import type { Worker } from '../../../core/runtime/worker';
import type { Plugin } from '../../../core/app/plugin';
import { DISPATCH_STORE, SCHEMA_STORE, TRANSPORT } from '../../../core/app/tokens';
import { DispatchState } from '../../../core/dispatch/state';
import { broadcastCancellation, eventsStream, type WorkflowEvent } from '../../../core/events';
import type { Fields } from '../../../core/runtime/transport';
import { MemoryDispatchStore, MemoryEventLog, memoryPlugin, MemorySchemaStore, MemoryTransport } from '../../../plugins/memory';
import { eventStreamKey, redisPlugin } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';
import { ev, StepIn, StepTask } from './fixtures/event-tasks';
import { sleep, until } from '../../helpers/wait';

const step = (key: string, mode: string): StepIn => Object.assign(new StepIn(), { key, mode });


async function rejectionOf(p: Promise<unknown>): Promise<{ code?: string; message?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string };
  }
  throw new Error('expected a rejection');
}

/** A single task's events: until its step_completed or step_failed (a single task has no workflow_* event). */
async function stepEvents(app: Weft, executionId: string): Promise<WorkflowEvent[]> {
  const out: WorkflowEvent[] = [];
  for await (const e of app.subscribe(executionId, { signal: AbortSignal.timeout(8000) })) {
    out.push(e);
    if (e.kind === 'step_completed' || e.kind === 'step_failed') break;
  }
  return out;
}

const summary = (events: readonly WorkflowEvent[]): string[] =>
  events.map((e) => [e.kind, e.step, e.percent, e.message, e.error?.code].filter((x) => x !== undefined).join(' '));

interface Backend {
  readonly name: string;
  producer(): Promise<Weft>;
  /** The app workers run in: the producer itself in memory, another app (same Redis prefix) on Redis. */
  workerApp(): Promise<Weft>;
  cleanup(): Promise<void>;
}

function backend(name: string, plugin: () => Plugin, cleanupKeys: () => Promise<void>): Backend {
  const apps: Weft[] = [];
  let producer: Weft | undefined;
  let worker: Weft | undefined;
  const create = async (): Promise<Weft> => {
    const app = await Weft.create({ plugins: [plugin()], config: { logLevel: 'silent' } });
    apps.push(app);
    return app;
  };
  return {
    name,
    producer: async () => (producer ??= await create()),
    workerApp: async () => (name === 'memory' ? (producer ??= await create()) : (worker ??= await create())),
    cleanup: async () => {
      await Promise.all(apps.splice(0).map((a) => a.close()));
      producer = worker = undefined;
      await cleanupKeys();
    },
  };
}

const redisPrefix = uniquePrefix('events');
const backends: Backend[] = [
  backend('memory', () => memoryPlugin(), async () => undefined),
  backend('redis', () => redisPlugin({ url: REDIS_URL, prefix: redisPrefix }), async () => {
    const c = await connectTestRedis();
    await deletePrefix(c, redisPrefix);
    c.disconnect();
  }),
];

for (const b of backends) {
  describe(`progress, subscribe and cancel (${b.name})`, function () {
    this.timeout(20_000);
    let producer: Weft;
    let workers: Worker[] = [];
    const startWorker = async (concurrency = 8): Promise<Worker> => {
      const w = await (await b.workerApp()).worker({ tasks: [StepTask], concurrency, blockMs: 200 });
      workers.push(w);
      return w;
    };

    before(async () => {
      if (b.name === 'redis') (await connectTestRedis()).disconnect(); // one clear line when Redis is missing
      producer = await b.producer();
    });
    beforeEach(() => ev.reset());
    afterEach(async () => {
      await Promise.all(workers.map((w) => w.close()));
      workers = [];
    });
    after(() => b.cleanup());

    describe('subscribe', () => {
      it('should show a subscriber the step events and the progress of a task that asked for events', async () => {
        await startWorker();
        const handle = await producer.submit(StepTask, step('p1', 'progress'), { events: true });
        const seen = stepEvents(producer, handle.executionId);
        await handle.result();
        const events = await seen;
        expect(summary(events)).to.deep.equal([
          'step_started ev.step', 'progress ev.step 25 a quarter', 'progress ev.step 50', 'progress ev.step 100 done', 'step_completed ev.step',
        ]);
        for (const e of events) {
          expect(e.executionId).to.equal(handle.executionId);
          expect(e.atMs).to.be.within(Date.now() - 10_000, Date.now());
        }
        expect(new Set(events.map((e) => e.id)).size).to.equal(events.length);
        expect(handle.status().progress).to.deep.equal({ percent: 100, message: 'done' });
      });

      it('should put the lineage index (wire field lineage_index) in the step and progress events of a message with events', async () => {
        await startWorker();
        const third = await producer.submit(StepTask, step('idx3', 'progress'), { events: true, lineageIndex: 3 });
        const first = await producer.submit(StepTask, step('idx0', 'progress'), { events: true });
        await Promise.all([third.result(), first.result()]);
        const [a, c] = await Promise.all([stepEvents(producer, third.executionId), stepEvents(producer, first.executionId)]);
        expect(a.map((e) => `${e.kind} ${String(e.index)}`)).to.deep.equal([
          'step_started 3', 'progress 3', 'progress 3', 'progress 3', 'step_completed 3',
        ]);
        expect(c.map((e) => e.index)).to.deep.equal([0, 0, 0, 0, 0]);
      });

      it('should give a late subscriber the events so far', async () => {
        await startWorker();
        const handle = await producer.submit(StepTask, step('late', 'progress'), { events: true });
        await handle.result();
        const events = await stepEvents(producer, handle.executionId);
        expect(events.map((e) => e.kind)).to.deep.equal(['step_started', 'progress', 'progress', 'progress', 'step_completed']);
      });

      it('should give two subscribers of one execution every event each', async () => {
        await startWorker();
        const executionId = `two-${Math.random().toString(36).slice(2)}`;
        const first = stepEvents(producer, executionId);
        const second = stepEvents(producer, executionId);
        await sleep(50);
        const handle = await producer.submit(StepTask, step('two', 'progress'), { events: true, executionId });
        await handle.result();
        const [a, c] = await Promise.all([first, second]);
        expect(a.map((e) => e.kind)).to.deep.equal(['step_started', 'progress', 'progress', 'progress', 'step_completed']);
        expect(c).to.deep.equal(a);
      });

      it('should write no events at all for a message without the events field, progress included; the progress reply still', async () => {
        await startWorker();
        const quiet = await producer.submit(StepTask, step('quiet', 'none'));
        const talky = await producer.submit(StepTask, step('talky', 'progress'));
        await Promise.all([quiet.result(), talky.result()]);
        const log = producer.eventLog!;
        expect(await log.read(eventsStream(quiet.executionId), '0')).to.deep.equal([]);
        expect(await log.read(eventsStream(talky.executionId), '0')).to.deep.equal([]);
        // The progress reply is sent as before: handle.status() has the last one.
        expect(talky.status().progress).to.deep.equal({ percent: 100, message: 'done' });
        if (b.name === 'redis') {
          // No event stream is created for a plain task (no write, no key kept for 24 h).
          const c = await connectTestRedis();
          try {
            expect(await c.exists(eventStreamKey(redisPrefix, eventsStream(talky.executionId)))).to.equal(0);
          } finally {
            c.disconnect();
          }
        }
      });

      it('should report a final failure as step_failed with its code', async () => {
        await startWorker();
        const handle = await producer.submit(StepTask, step('f', 'fail'), { events: true });
        expect((await rejectionOf(handle.result())).code).to.equal('WEFT_TASK_FATAL');
        const events = await stepEvents(producer, handle.executionId);
        expect(summary(events)).to.deep.equal(['step_started ev.step', 'step_failed ev.step WEFT_TASK_FATAL']);
        expect(events[1]!.error!.message).to.match(/cannot succeed/);
      });
    });

    describe('ctx.progress', () => {
      it('should refuse a percent outside 0..100 or not finite with WEFT_PROGRESS_INVALID', async () => {
        await startWorker();
        const out = await (await producer.submit(StepTask, step('bad', 'bad'))).result();
        expect(out.code).to.equal('WEFT_PROGRESS_INVALID;'.repeat(4));
      });

      it('should still take any JSON value as its only argument: the reply as before, the event with it as message', async () => {
        await startWorker();
        const handle = await producer.submit(StepTask, step('old', 'old'), { events: true });
        await handle.result();
        expect(handle.status().progress).to.deep.equal({ percent: 30, message: 'old shape' });
        const [started, entry, shaped] = await producer.eventLog!.read(eventsStream(handle.executionId), '0');
        expect(String(started!.fields.kind)).to.equal('step_started');
        expect(String(entry!.fields.kind)).to.equal('progress');
        expect(String(entry!.fields.message)).to.equal('{"rows":7}');
        expect(entry!.fields.percent).to.equal(undefined);
        expect(String(shaped!.fields.percent)).to.equal('30');
        expect(String(shaped!.fields.message)).to.equal('old shape');
      });
    });

    describe('cancel', () => {
      it('should fire the AbortSignal of a running task, skip a queued task of the same execution, and keep running other executions', async () => {
        await startWorker(1);
        const executionId = `cx-${Math.random().toString(36).slice(2)}`;
        const started = new Promise<void>((r) => ev.running.set('a', r));
        const a = await producer.submit(StepTask, step('a', 'hold'), { executionId, businessKey: `${executionId}-a`, events: true });
        await started;
        // One slot, taken by `a`: `b` waits in the queue.
        const queued = await producer.submit(StepTask, step('b', 'none'), { executionId, businessKey: `${executionId}-b`, events: true });
        await sleep(100);
        const cancelledAt = Date.now();
        const c = await producer.cancel(executionId, 'the customer withdrew');
        expect(c).to.include({ executionId, reason: 'the customer withdrew' });

        const errA = await rejectionOf(a.result());
        expect(errA.code).to.equal('WEFT_CANCELLED');
        expect(Date.now() - cancelledAt).to.be.lessThan(3000);
        expect(ev.reasons.get('a')).to.equal('WEFT_CANCELLED');
        const errB = await rejectionOf(queued.result());
        expect(errB.code).to.equal('WEFT_CANCELLED');
        expect(errB.message).to.match(/the customer withdrew/);
        expect(ev.ran).to.deep.equal(['a'], 'the queued task of the cancelled execution must not run');

        // Both end FAILED_FINAL through the ledger, not retried.
        const views = await producer.ledger.inspect([
          { executionId, stepId: 'ev.step', idempotencyKey: a.idempotencyKey },
          { executionId, stepId: 'ev.step', idempotencyKey: queued.idempotencyKey },
        ]);
        expect(views.map((v) => v?.state)).to.deep.equal([DispatchState.FAILED_FINAL, DispatchState.FAILED_FINAL]);
        expect(views.map((v) => v?.lastError?.code)).to.deep.equal(['WEFT_CANCELLED', 'WEFT_CANCELLED']);

        // The step events say so too.
        const events = (await producer.eventLog!.read(eventsStream(executionId), '0', { count: 100 })).map((e) => `${String(e.fields.kind)} ${String(e.fields.error_code ?? '')}`.trim());
        expect(events).to.deep.equal(['step_started', 'step_failed WEFT_CANCELLED', 'step_failed WEFT_CANCELLED']);

        // The worker goes on with other executions.
        const other = await producer.submit(StepTask, step('other', 'none'));
        expect((await other.result()).key).to.equal('other');
        expect(ev.ran).to.deep.equal(['a', 'other']);
      });

      it('should let other components of the process learn of cancellations (onCancel)', async () => {
        const heard: string[] = [];
        const off = producer.onCancel((c) => heard.push(c.executionId));
        // Written to the control stream as another machine would (not through this app's cancel(),
        // which tells its own feed at once): the feed learns it by reading the stream.
        await broadcastCancellation(producer.eventLog!, 'oc-1', 'elsewhere');
        await until(() => heard.includes('oc-1'), 'the cancellation');
        expect(producer.cancellations.isCancelled('oc-1')).to.equal(true);
        off();
      });

      it('should refuse an empty execution id with a coded error', async () => {
        expect((await rejectionOf(producer.cancel(''))).code).to.equal('WEFT_EVENT_LOG_INVALID_ARGUMENT');
      });
    });
  });
}

describe('progress, subscribe and cancel (edge cases)', () => {
  it('should not fail a task when appending its events fails', async () => {
    class BrokenLog extends MemoryEventLog {
      override async append(_s: string, _f: Fields): Promise<string> {
        throw new Error('disk on fire');
      }
    }
    const app = await Weft.create({ plugins: [memoryPlugin({ eventLog: new BrokenLog() })], config: { logLevel: 'silent' } });
    try {
      await app.worker({ tasks: [StepTask] });
      const out = await (await app.submit(StepTask, step('broken', 'progress'), { events: true })).result();
      expect(out.key).to.equal('broken');
    } finally {
      await app.close();
    }
  });

  it('should refuse subscribe and cancel with WEFT_EVENT_LOG_MISSING when no plugin provides an event log', async () => {
    const bare: Plugin = {
      name: 'bare', provides: ['transport', 'schemaStore', 'dispatchStore'],
      register(c) {
        c.registerInstance(TRANSPORT, new MemoryTransport());
        c.registerInstance(SCHEMA_STORE, new MemorySchemaStore());
        c.registerInstance(DISPATCH_STORE, new MemoryDispatchStore());
      },
    };
    const app = await Weft.create({ plugins: [bare], config: { logLevel: 'silent' } });
    try {
      expect(app.eventLog).to.equal(undefined);
      expect(() => app.subscribe('e')).to.throw().with.property('code', 'WEFT_EVENT_LOG_MISSING');
      expect((await rejectionOf(app.cancel('e'))).code).to.equal('WEFT_EVENT_LOG_MISSING');
      // Tasks still run, progress included, without an event log.
      await app.worker({ tasks: [StepTask] });
      expect((await (await app.submit(StepTask, step('bare', 'progress'), { events: true })).result()).key).to.equal('bare');
    } finally {
      await app.close();
    }
  });
});
