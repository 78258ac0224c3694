import { expect } from 'chai';
import { Weft } from '../../../core/runtime/weft';
import { RemoteTaskError } from '../../../core/runtime/errors';
import { ValidationError } from '../../../core/errors';
import { schemaOf } from '../../../core/schema/schema';
import { toFields, TaskEnvelope } from '../../../core/tasks/wire';
import { appBackends, type Backend } from '../../helpers/backends';
import { ModuleTaskResolver } from '../../../core/tasks/resolver';
import { DoubleTask, NumberIn, NumberOut } from './fixtures/tasks';

const input = (value: bigint, label = 'x', sleepMs = 0): NumberIn => Object.assign(new NumberIn(), { value, label, sleepMs });

const backends: Backend[] = appBackends('runtime');

for (const backend of backends) {
  describe(`Weft (${backend.name})`, () => {
    let producer: Weft;
    let workerApp: Weft;

    before(async () => {
      producer = await Weft.create({ plugins: [await backend.plugin()], config: { logLevel: 'silent' } });
      // The memory transport is per app: share the producer's app for the embedded case.
      workerApp = backend.name === 'memory' ? producer : await Weft.create({ plugins: [await backend.plugin()], config: { logLevel: 'silent' } });
      await workerApp.worker({
        tasks: [DoubleTask], concurrency: 8, blockMs: 100, visibilityTimeoutMs: 2000,
        // Only modules under ./fixtures may be loaded by the 'module' strategy.
        resolvers: [new ModuleTaskResolver({ roots: [`${__dirname}/fixtures`] })],
      });
    });

    after(async () => {
      await producer.close();
      if (workerApp !== producer) await workerApp.close();
      await backend.cleanup();
    });

    describe('submit', () => {
      it('should return a handle whose result() is the typed output, as a class instance', async () => {
        const handle = await producer.submit(DoubleTask, input(21n, 'a'));
        const out = await handle.result();
        expect(out).to.be.instanceOf(NumberOut);
        expect(out.doubled).to.equal(42n);
        expect(out.describe()).to.equal('a=42');
        expect(handle.status().state).to.equal('succeeded');
        expect(handle.status().progress).to.deep.equal({ step: 'started' });
      });

      it('should reject with the remote error code and message', async () => {
        const handle = await producer.submit(DoubleTask, input(7n, 'fail'));
        const err = await handle.result().then(() => undefined, (e: unknown) => e);
        expect(err).to.be.instanceOf(RemoteTaskError);
        expect((err as RemoteTaskError).code).to.equal('APP_OUT_OF_STOCK');
        expect((err as RemoteTaskError).message).to.contain('no stock for 7');
        expect(handle.status().state).to.equal('failed');
        // The error names the item's dead letter by id.
        const id = (err as RemoteTaskError).deadLetterId;
        expect(id, 'deadLetterId').to.be.a('string');
        expect((await producer.deadLetters.inspect('rt-main', id!)).summary.idempotencyKey).to.equal(handle.idempotencyKey);
      });

      it('should refuse invalid input before sending anything', async () => {
        const before = await producer.app.transport.backlog('rt-main', 'weft');
        const err = await producer.submit(DoubleTask, input(1n, '', 5000)).then(() => undefined, (e: unknown) => e);
        expect(err).to.be.instanceOf(ValidationError);
        expect((err as ValidationError).violations.map((v) => v.path).sort()).to.deep.equal(['label', 'sleepMs']);
        expect(await producer.app.transport.backlog('rt-main', 'weft')).to.equal(before);
      });
    });

    describe('submitMany', () => {
      it('should run every task and return every result', async () => {
        const handles = await producer.submitMany(DoubleTask, Array.from({ length: 200 }, (_, i) => input(BigInt(i), `n${i}`)));
        const results = await Promise.all(handles.map((h) => h.result()));
        expect(results.map((r) => r.doubled)).to.deep.equal(Array.from({ length: 200 }, (_, i) => BigInt(i) * 2n));
      });

      it('should keep its reply queue down to the replies not read yet', async () => {
        const client = (producer as unknown as { client: { replyQueue: string } }).client;
        for (let round = 0; round < 3; round++) {
          const handles = await producer.submitMany(DoubleTask, Array.from({ length: 300 }, (_, i) => input(BigInt(i), `r${round}-${i}`)));
          await Promise.all(handles.map((h) => h.result()));
        }
        // A group that never read the reply queue would get every entry still retained: only the
        // last batch, acknowledged (and deleted) with the next read, may be left.
        const retained = await producer.app.transport.backlog(client.replyQueue, 'never-read');
        expect(retained).to.be.below(300);
      });
    });

    describe('worker', () => {
      it('should run a task named by an allowlisted module reference', async () => {
        const transport = producer.app.transport;
        const good = schemaOf(NumberIn);
        await producer.registry.ensure(good);
        const executionId = `mod-${Math.random()}`;
        await transport.publish('rt-main', [toFields({
          schemaId: good.id, type: good.fullName, payload: good.codec.encode(input(4n, 'm')), task: './tasks#DoubleTask',
          resolverId: 'module', strategy: 'module', correlationId: 'c', executionId, idempotencyKey: 'k', retryAttempt: 0,
          dispatchTsMs: Date.now(), parentItemId: '', traceparent: '', stepId: '', replyTo: 'rt-replies',
        })]);
        let reply;
        for (let i = 0; i < 50 && !reply; i++) {
          const got = await transport.consume('rt-replies', { group: 't', consumer: 't', count: 10, blockMs: 100 });
          reply = got.find((d) => String(d.fields.execution_id) === executionId && String(d.fields.kind) === 'result');
        }
        expect(reply, 'a result reply').to.not.equal(undefined);
        expect(schemaOf(NumberOut).codec.decode(reply!.fields.payload as Buffer).doubled).to.equal(8n);
      });
    });

    describe('worker, given bad input', () => {
      const good = schemaOf(NumberIn);
      const base = (over: Partial<TaskEnvelope>): TaskEnvelope => ({
        schemaId: good.id, type: good.fullName, payload: good.codec.encode(input(5n, 'ok')), task: 'rt.double@1',
        resolverId: 'default', strategy: 'registry', correlationId: 'c', executionId: `bad-${Math.random()}`,
        idempotencyKey: 'k', retryAttempt: 0, dispatchTsMs: Date.now(), parentItemId: '', traceparent: '', stepId: '', replyTo: '',
        ...over,
      });
      const cases: { name: string; env: () => Promise<TaskEnvelope>; code: string }[] = [
        { name: 'an unknown task', env: async () => base({ task: 'rt.nope@1' }), code: 'WEFT_TASK_UNKNOWN' },
        { name: 'an unknown schema id', env: async () => base({ schemaId: 'f'.repeat(32) }), code: 'WEFT_SCHEMA_NOT_FOUND' },
        { name: 'a corrupt payload', env: async () => base({ payload: Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]) }), code: 'WEFT_DECODE_ERROR' },
        {
          name: 'a schema whose hash does not match its id',
          env: async () => {
            // Store a schema under an id that is not its hash (as a corrupted or tampered store would hold it).
            const fakeId = 'e'.repeat(32);
            const store = producer.app.schemaStore;
            await store.putSchema(fakeId, schemaOf(NumberOut).bytes);
            return base({ schemaId: fakeId });
          },
          code: 'WEFT_SCHEMA_CORRUPT',
        },
        { name: 'input that fails validation', env: async () => base({ payload: good.codec.encode(Object.assign(new NumberIn(), { value: 1n, label: 'v', sleepMs: 0 })).subarray(0, 0) }), code: 'WEFT_VALIDATION_FAILED' },
        { name: 'a module strategy outside the allowlist', env: async () => base({ strategy: 'module', resolverId: 'module', task: '../../../../plugins/index#Weft' }), code: 'WEFT_MODULE_NOT_ALLOWED' },
        { name: 'a strategy its resolver does not read', env: async () => base({ strategy: 'module', resolverId: 'default', task: './tasks#DoubleTask' }), code: 'WEFT_STRATEGY_MISMATCH' },
      ];
      for (const c of cases) {
        it(`should dead-letter ${c.name} with its reason and go on with the next entry`, async () => {
          const env = await c.env();
          const transport = producer.app.transport;
          const dlqBefore = (await transport.deadLetters('rt-main', 10_000)).length;
          await transport.publish('rt-main', [toFields(env)]);
          const after = await (await producer.submit(DoubleTask, input(2n, 'next'))).result();
          expect(after.doubled).to.equal(4n);
          // The two entries run concurrently: the dead letter may be written just after the good result.
          let dead = await transport.deadLetters('rt-main', 10_000);
          for (let i = 0; i < 100 && dead.length === dlqBefore; i++) {
            await new Promise((r) => setTimeout(r, 20));
            dead = await transport.deadLetters('rt-main', 10_000);
          }
          expect(dead.length).to.equal(dlqBefore + 1);
          const last = dead[dead.length - 1];
          expect(last.reason.code).to.equal(c.code);
          expect(last.reason.message).to.be.a('string').and.not.equal('');
          expect(String(last.fields.execution_id)).to.equal(env.executionId);
        });
      }
    });
  });
}
