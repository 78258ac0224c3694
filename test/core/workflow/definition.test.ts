import { expect } from 'chai';
import { flow } from '../../../core/workflow';
import { FlowRegistry } from '../../../core/workflow/register';
import { CountIt, Enrich, Ingest, MakeReport, Measure, Summarize } from './fixtures/flow-tasks';

describe('flow definitions', () => {
  it('builds stages with names, kinds and fields', () => {
    const f = flow('orders').step(Ingest).forEach(Enrich, { over: 'orders', continueOnError: true }).collect(MakeReport, { into: 'orders' }).then(Summarize);
    expect(f.stages.map((s) => [s.kind, s.name, s.over ?? s.into ?? '', s.continueOnError])).to.deep.equal([
      ['step', 'flowtest.ingest', '', false],
      ['forEach', 'flowtest.enrich', 'orders', true],
      ['collect', 'flowtest.report', 'orders', false],
      ['step', 'flowtest.summarize', '', false],
    ]);
  });

  it('checks edge types at compile time', () => {
    // Each line below must be a type error (tsc checks this file): the test only builds the flows.
    const bad = (): unknown[] => [
      // @ts-expect-error OrderBatch is not a ReportIn (its orders lack `tax`)
      flow('bad1').step(Ingest).then(MakeReport),
      // @ts-expect-error 'source' is a string, not a list
      flow('bad2').step(Ingest).forEach(Enrich, { over: 'source' }),
      // @ts-expect-error Enrich's outputs do not fit IngestIn's field 'failAt' (numbers)
      flow('bad3').step(Ingest).forEach(Enrich, { over: 'orders' }).collect(Ingest, { into: 'failAt' }),
    ];
    expect(bad).to.be.a('function');
  });

  it('refuses duplicate step names, continueOnError on a single step, and bad names', () => {
    expect(() => flow('dup').step(Ingest).forEach(Enrich, { over: 'orders' }).collect(MakeReport, { into: 'orders' }).then(Summarize).then(Summarize as never))
      .to.throw(/already has a step named 'flowtest.summarize'/).with.property('code', 'WEFT_FLOW_INVALID');
    expect(() => flow('coe').step(Ingest, { continueOnError: true })).to.throw(/continueOnError applies to forEach/);
    expect(() => flow('has space')).to.throw().with.property('code', 'WEFT_FLOW_INVALID');
  });

  it('registration refuses an edge whose schemas are incompatible, naming the step and the field', () => {
    // TypeScript accepts it (both fields are numbers), the wire does not (double vs int32).
    const f = flow('measure').step(Measure).then(CountIt);
    const registry = new FlowRegistry();
    let err: (Error & { code?: string }) | undefined;
    try {
      registry.register(f);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.code).to.equal('WEFT_FLOW_EDGE_INCOMPATIBLE');
    expect(err?.message).to.contain("step 'flowtest.count'").and.contain("step 'flowtest.measure'").and.contain('value (1)')
      .and.contain('FIELD_TYPE_CHANGED');
    expect(registry.get('measure')).to.equal(undefined);
  });

  it('registration accepts compatible fan-out and fan-in edges, and is idempotent', () => {
    const registry = new FlowRegistry();
    const f = flow('orders').step(Ingest).forEach(Enrich, { over: 'orders' }).collect(MakeReport, { into: 'orders' });
    registry.register(f);
    registry.register(flow('orders').step(Ingest).forEach(Enrich, { over: 'orders' }).collect(MakeReport, { into: 'orders' }));
    expect(registry.get('orders')).to.equal(f);
    expect(() => registry.register(flow('orders').step(Ingest))).to.throw().with.property('code', 'WEFT_FLOW_CONFLICT');
  });

  it('registration refuses an over/into field that is not a list of messages', () => {
    const registry = new FlowRegistry();
    const f = flow('x').step(Ingest).forEach(Enrich, { over: 'orders' }).collect(MakeReport, { into: 'orders' });
    const broken = Object.assign(Object.create(Object.getPrototypeOf(f)), f, {
      stages: f.stages.map((s) => (s.kind === 'forEach' ? { ...s, over: 'source' } : s)),
    });
    expect(() => registry.register(broken)).to.throw(/must be a repeated message field/).with.property('code', 'WEFT_FLOW_INVALID');
  });
});
