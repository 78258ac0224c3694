import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import { flow, FlowFailedError } from '../../../core/workflow';
import { NOTICE_STEP_PREFIX } from '../../../core/dispatch';
import { appBackends, type Backend } from '../../helpers/backends';
import { ChildIn, ChildTask } from './fixtures/child-tasks';
import { Ingest, IngestIn } from '../workflow/fixtures/flow-tasks';
import { sleep } from '../../helpers/wait';


/** A flow whose only step must finish within 200 ms: with no worker on its queue, it never does. */
const expiring = flow('notify.expiring').step(Ingest, { timeoutMs: 200 });

const backends: Backend[] = appBackends('reconciler-notify');

for (const backend of backends) {
  describe(`the reconciler tells the waiters of items it ends FAILED_FINAL (${backend.name})`, function () {
    this.timeout(20_000);
    let app: Weft;

    before(async () => {
      app = await Weft.create({ plugins: [await backend.plugin()], config: { logLevel: 'silent' } });
      app.flows.register(expiring);
    });

    after(async () => {
      await app.close();
      await backend.cleanup();
    });

    it('rejects result() with WEFT_DEADLINE_EXCEEDED, and dead-letters the item, when its deadline passed with no worker', async () => {
      const handle = await app.submit(ChildTask, Object.assign(new ChildIn(), { n: 3 }), {
        businessKey: `expire-${backend.name}`, deadlineMs: Date.now() + 150,
      });
      let settled = false;
      const result = handle.result().then(
        () => { settled = true; throw new Error('result() resolved'); },
        (e: unknown) => { settled = true; return e; },
      );
      await sleep(300);
      expect(settled).to.equal(false, 'nobody answered yet');
      const stats = await app.reconciler({ idleMs: 50 }).runOnce();
      expect(stats).to.include({ expired: 1, notified: 1, notifyFailed: 0 });
      const err = await result;
      expect(err).to.have.property('code', 'WEFT_DEADLINE_EXCEEDED');
      const record = await app.app.dispatchStore.get({
        executionId: handle.executionId, stepId: 'ch.child', idempotencyKey: handle.idempotencyKey,
      });
      expect(record?.state).to.equal('FAILED_FINAL');
      const dead = (await app.deadLetters.list('ch-child')).filter((d) => d.idempotencyKey === handle.idempotencyKey);
      expect(dead.map((d) => [d.code, d.executionId])).to.deep.equal([['WEFT_DEADLINE_EXCEEDED', handle.executionId]]);
      const detail = await app.deadLetters.inspect('ch-child', dead[0]!.id);
      expect(detail.diagnostics).to.include({ worker: 'reconciler', final_reason: 'deadline' });
      expect(detail.payload).to.deep.include({ json: { n: 3 } });
      // The notice marker is gone: a later round finds nothing to do.
      const marker = await app.app.dispatchStore.get({
        executionId: handle.executionId, stepId: `${NOTICE_STEP_PREFIX}ch.child`, idempotencyKey: handle.idempotencyKey,
      });
      expect(marker).to.equal(undefined);
      await sleep(100);
      expect(await app.reconciler({ idleMs: 50 }).runOnce()).to.include({ scanned: 0, notified: 0 });
    });

    it('ends a flow FAILED when its step item expires with no worker on its queue', async () => {
      await app.orchestrator({ blockMs: 50 });
      const run = await app.flows.start(expiring, Object.assign(new IngestIn(), { count: 1 }), { businessKey: `flow-${backend.name}` });
      // Wait for the orchestrator to dispatch the step item, then for its deadline to pass.
      for (let i = 0; i < 100 && (await app.flows.state(run.executionId))?.sizes?.[0] === undefined; i++) await sleep(20);
      await sleep(400);
      expect((await app.flows.state(run.executionId))?.status).to.equal('RUNNING');
      expect(await app.reconciler({ idleMs: 50 }).runOnce()).to.include({ expired: 1, notified: 1 });
      const err = await run.result({ timeoutMs: 10_000, pollMs: 50 }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(FlowFailedError);
      expect((err as FlowFailedError).failure).to.include({ step: 'flowtest.ingest', code: 'WEFT_DEADLINE_EXCEEDED' });
      expect((await app.flows.state(run.executionId))?.status).to.equal('FAILED');
    });
  });
}
