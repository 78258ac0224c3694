import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import { RemoteTaskError } from '../../../core/runtime/errors';
import type { Plugin } from '../../../core/app/plugin';
import { memoryPlugin, MemoryTransport } from '../../../plugins/memory';
import type { Delivery, ReclaimOptions } from '../../../core/runtime/transport';
import { redisPlugin } from '../../../plugins/redis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from '../../helpers/redis';
import { ProbeIn, ProbeTask, SlowIn, SlowOut, SlowTask, wk } from './fixtures/worker-tasks';
import { sleep, until } from '../../helpers/wait';



const slow = (i: number, sleepMs: number): SlowIn => Object.assign(new SlowIn(), { i, sleepMs });
const probe = (key: string, mode: 'gate' | 'signal'): ProbeIn => Object.assign(new ProbeIn(), { key, mode });

interface Backend {
  readonly name: string;
  /** The producer's app. */
  producer(): Promise<Weft>;
  /** An app for a worker: the producer's own app in memory (its transport is per app), a new one on Redis. */
  workerApp(): Promise<Weft>;
  cleanup(): Promise<void>;
}

function backend(name: string, plugin: () => Promise<Plugin>, cleanupKeys: () => Promise<void>): Backend {
  const apps: Weft[] = [];
  let producer: Weft | undefined;
  const create = async (): Promise<Weft> => {
    const app = await Weft.create({ plugins: [await plugin()], config: { logLevel: 'silent' } });
    apps.push(app);
    return app;
  };
  return {
    name,
    producer: async () => (producer ??= await create()),
    workerApp: async () => (name === 'memory' ? (producer ??= await create()) : create()),
    cleanup: async () => {
      await Promise.all(apps.splice(0).map((a) => a.close()));
      producer = undefined;
      await cleanupKeys();
    },
  };
}

const redisPrefix = uniquePrefix('worker');
const backends: Backend[] = [
  backend('memory', async () => memoryPlugin(), async () => undefined),
  backend('redis', async () => {
    const probeClient = await connectTestRedis(); // fails with one line when Redis is missing
    probeClient.disconnect();
    return redisPlugin({ url: REDIS_URL, prefix: redisPrefix });
  }, async () => {
    const c = await connectTestRedis();
    await deletePrefix(c, redisPrefix);
    c.disconnect();
  }),
];

for (const b of backends) {
  describe(`Worker (${b.name})`, function () {
    this.timeout(20_000);
    let producer: Weft;

    before(async () => {
      producer = await b.producer();
    });
    beforeEach(() => wk.reset());
    after(() => b.cleanup());

    describe('close()', () => {
      it('should stop fetching, finish and ack the tasks in flight, then resolve; a second worker runs the rest', async () => {
        const N = 20;
        const transport = producer.app.transport;
        const first = await (await b.workerApp()).worker({ tasks: [SlowTask], concurrency: 5, blockMs: 100 });
        const handles = await producer.submitMany(SlowTask, Array.from({ length: N }, (_, i) => slow(i, 200)));

        await until(() => wk.started.length === 5, 'five tasks to start');
        await sleep(50); // they are halfway through
        const inFlight = [...wk.started];
        let closed = false;
        const closing = first.close().then(() => { closed = true; });
        await sleep(50);
        expect(closed, 'close() waits for the tasks in flight').to.equal(false);
        expect(wk.running).to.equal(5);
        await closing;

        // Everything in flight finished and was acked; nothing new was fetched or started.
        expect(wk.finished.slice().sort((x, y) => x - y)).to.deep.equal(inFlight.slice().sort((x, y) => x - y));
        expect(wk.started).to.deep.equal(inFlight);
        expect(wk.running).to.equal(0);
        expect(first.completed).to.equal(5);
        expect(await transport.backlog('wk-slow', 'weft')).to.equal(N - 5);
        const stillPending = await transport.reclaim('wk-slow', { group: 'weft', consumer: 'probe', minIdleMs: 0, count: 100 });
        expect(stillPending, 'deliveries the closed worker left unacked').to.deep.equal([]);
        const done = await Promise.all(inFlight.map((i) => handles[i].result()));
        expect(done.map((o) => o.i)).to.deep.equal(inFlight);
        for (const [i, h] of handles.entries()) if (!inFlight.includes(i)) expect(h.status().state).to.equal('pending');
        await sleep(100);
        expect(wk.started.length, 'no task started after close()').to.equal(5);

        // A second worker takes the rest: nothing lost, nothing run twice.
        const second = await (await b.workerApp()).worker({ tasks: [SlowTask], concurrency: 5, blockMs: 100 });
        const outs: SlowOut[] = await Promise.all(handles.map((h) => h.result()));
        expect(outs.map((o) => o.i)).to.deep.equal(Array.from({ length: N }, (_, i) => i));
        expect(wk.started.slice().sort((x, y) => x - y)).to.deep.equal(Array.from({ length: N }, (_, i) => i));
        expect(wk.maxRunning).to.equal(5);
        await second.close();
        expect(await transport.backlog('wk-slow', 'weft')).to.equal(0);
      });
    });

    describe('close(), called twice', () => {
      it('should resolve both calls only after the tasks in flight finished', async () => {
        const worker = await (await b.workerApp()).worker({ tasks: [SlowTask], concurrency: 2, blockMs: 100 });
        const handles = await producer.submitMany(SlowTask, [slow(0, 150), slow(1, 150)]);
        await until(() => wk.started.length === 2, 'both tasks to start');
        const first = worker.close();
        await sleep(10);
        await worker.close(); // e.g. app.close() while the user's own close() is still waiting
        expect(wk.finished.length, 'tasks finished when the second close() resolved').to.equal(2);
        await first;
        expect((await Promise.all(handles.map((h) => h.result()))).map((o) => o.i)).to.deep.equal([0, 1]);
      });
    });

    describe('concurrency', () => {
      it('should never run more tasks at once than its limit', async () => {
        const worker = await (await b.workerApp()).worker({ tasks: [SlowTask], concurrency: 3, blockMs: 100 });
        const handles = await producer.submitMany(SlowTask, Array.from({ length: 30 }, (_, i) => slow(i, 5 + (i % 4) * 10)));
        await Promise.all(handles.map((h) => h.result()));
        await worker.close();
        expect(wk.started).to.have.length(30);
        expect(wk.maxRunning).to.equal(3);
      });
    });

    describe('TaskContext', () => {
      before(async () => {
        await (await b.workerApp()).worker({ tasks: [ProbeTask], concurrency: 4, blockMs: 100 });
      });

      it('should give a pino child logger bound to the task and correlation ids, and report progress', async () => {
        const key = `p-${b.name}`;
        const handle = await producer.submit(ProbeTask, probe(key, 'gate'), { correlationId: `corr-${key}` });
        await until(() => wk.gates.has(key), 'the probe to run');
        expect(wk.bindings.get(key)).to.include({
          task: 'wk.probe', correlationId: `corr-${key}`, executionId: handle.executionId,
        });
        await until(() => handle.status().progress !== undefined, 'progress to arrive');
        expect(handle.status()).to.deep.equal({ state: 'pending', progress: { step: 'waiting', key } });
        wk.gates.get(key)!();
        const out = await handle.result();
        expect(out.key).to.equal(key);
        expect(out.aborted).to.equal(false);
        expect(handle.status().state).to.equal('succeeded');
      });

      it('should fire the AbortSignal at the deadline', async () => {
        const deadlineMs = Date.now() + 300;
        const handle = await producer.submit(ProbeTask, probe('deadline', 'signal'), { deadlineMs });
        const out = await handle.result();
        expect(out.aborted).to.equal(true);
        expect(out.reasonCode).to.equal('WEFT_DEADLINE_EXCEEDED');
        expect(out.deadlineMs).to.equal(deadlineMs);
        expect(out.atMs).to.be.at.least(deadlineMs - 5).and.below(deadlineMs + 1000);
      });

      it('should dead-letter a dispatch whose deadline already passed, without running it', async () => {
        const transport = producer.app.transport;
        const before = (await transport.deadLetters('wk-probe', 1000)).length;
        const handle = await producer.submit(ProbeTask, probe('late', 'signal'), { deadlineMs: Date.now() - 1000 });
        const err = await handle.result().then(() => undefined, (e: unknown) => e);
        expect(err).to.be.instanceOf(RemoteTaskError);
        expect((err as RemoteTaskError).code).to.equal('WEFT_DEADLINE_EXCEEDED');
        expect(wk.probed).to.not.include('late');
        const dead = await transport.deadLetters('wk-probe', 1000);
        expect(dead).to.have.length(before + 1);
        expect(dead[dead.length - 1].reason.code).to.equal('WEFT_DEADLINE_EXCEEDED');
        expect(String(dead[dead.length - 1].fields.execution_id)).to.equal(handle.executionId);
      });
    });
  });
}

/** A memory transport whose reclaim takes as long as a slow XAUTOCLAIM round trip. */
class SlowReclaimTransport extends MemoryTransport {
  override async reclaim(queue: string, options: ReclaimOptions): Promise<Delivery[]> {
    await sleep(300);
    return super.reclaim(queue, options);
  }
}

describe('Worker close() during a reclaim', () => {
  beforeEach(() => wk.reset());

  it('should run nothing after close() resolved, even what a reclaim in progress took over', async () => {
    const transport = new SlowReclaimTransport();
    const app = await Weft.create({ plugins: [memoryPlugin({ transport })], config: { logLevel: 'silent' } });
    try {
      const handle = await app.submit(SlowTask, slow(0, 100));
      // A consumer takes the task and dies without acking it.
      const ghost = await transport.consume('wk-slow', { group: 'weft', consumer: 'ghost', count: 10, blockMs: 0 });
      expect(ghost).to.have.length(1);
      const worker = await app.worker({ tasks: [SlowTask], concurrency: 2, blockMs: 50, visibilityTimeoutMs: 100 });
      await sleep(170); // a reclaim started at 150 ms (the ghost's delivery is idle past 100 ms) and lasts 300 ms
      await worker.close();
      const startedAtClose = wk.started.length;
      expect(wk.running, 'tasks running when close() resolved').to.equal(0);
      await sleep(500);
      expect(wk.started.length, 'tasks started after close() resolved').to.equal(startedAtClose);
      if (startedAtClose === 1) expect((await handle.result()).i).to.equal(0);
      else expect(await transport.backlog('wk-slow', 'weft')).to.equal(1);
    } finally {
      await app.close();
      await transport.close();
    }
  });
});
