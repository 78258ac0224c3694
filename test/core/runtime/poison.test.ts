import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import { DispatchErrorCode } from '../../../core/dispatch';
import { memoryPlugin } from '../../../plugins/memory';
import { ch, ChildIn, ChildTask } from './fixtures/child-tasks';
import { sleep } from '../../helpers/wait';


describe('a delivery past its attempts (its workers kept crashing)', () => {
  it('should be dead-lettered as exhausted without running', async () => {
    ch.reset();
    const app = await Weft.create({ plugins: [memoryPlugin()], config: { logLevel: 'silent' } });
    try {
      const h = await app.submit(ChildTask, Object.assign(new ChildIn(), { n: 1 }), { businessKey: 'poison' });
      // A "worker" that takes the message and dies: it is never acked.
      const [taken] = await app.app.transport.consume('ch-child', { group: 'weft', consumer: 'dead', count: 1, blockMs: 0 });
      expect(taken).to.not.equal(undefined);
      await app.worker({ tasks: [ChildTask], concurrency: 2, blockMs: 20, visibilityTimeoutMs: 100, retry: { maxAttempts: 1 }, reconcile: false });
      const err = await h.result().then(() => undefined, (e: unknown) => e);
      expect(err).to.have.property('code', DispatchErrorCode.RETRIES_EXHAUSTED);
      await sleep(50);
      expect(ch.children).to.deep.equal([], 'the task did not run');
      const [dl] = await app.deadLetters.list('ch-child');
      expect(dl).to.include({ code: DispatchErrorCode.RETRIES_EXHAUSTED });
      const detail = await app.deadLetters.inspect('ch-child', dl!.id);
      expect(detail.diagnostics).to.include({ final_reason: 'exhausted', attempts: '2', delivery_count: '2' });
    } finally {
      await app.close();
    }
  });
});
