import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import { StoreLedger } from '../../../core/dispatch';
import { memoryPlugin } from '../../../plugins/memory';
import { ch, ChildIn, ChildTask } from './fixtures/child-tasks';
import { sleep } from '../../helpers/wait';


describe('app.reconciler()', () => {
  it('should recover an item whose producer stopped between recording and publishing it, once', async () => {
    ch.reset();
    let crash = true;
    const app = await Weft.create({
      plugins: [memoryPlugin()], config: { logLevel: 'silent' },
      dispatchLedger: ({ store, transport }) => new StoreLedger(store, transport, {
        pauses: { afterCreate: async () => { if (crash) throw new Error('the producer died here'); } },
      }),
    });
    try {
      await app.worker({ tasks: [ChildTask], concurrency: 4, blockMs: 20, reconcile: false });
      const err = await app.submit(ChildTask, Object.assign(new ChildIn(), { n: 7 }), { businessKey: 'orphan', awaitResult: false })
        .then(() => undefined, (e: unknown) => e);
      expect(String(err)).to.contain('the producer died here');
      crash = false;
      await sleep(300);
      expect(ch.children).to.deep.equal([], 'nothing was published');
      const reconciler = app.reconciler({ idleMs: 250 });
      const [first, second] = [await reconciler.runOnce(), await reconciler.runOnce()];
      expect(first.republished).to.equal(1);
      expect(second.republished).to.equal(0, 'the record is SENT and fresh now');
      for (let i = 0; i < 100 && ch.children.length === 0; i++) await sleep(10);
      await sleep(50);
      expect(ch.children.map((c) => c.n)).to.deep.equal([7], 'it ran exactly once');
      const again = await app.submit(ChildTask, Object.assign(new ChildIn(), { n: 7 }), { businessKey: 'orphan' });
      expect(again.deduplicated).to.equal(true);
      expect((await again.result()).n).to.equal(70, 'the resubmit gets the stored result');
      expect(ch.children).to.have.length(1);
      await reconciler.close();
    } finally {
      await app.close();
    }
  });
});
