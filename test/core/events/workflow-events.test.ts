import { expect } from 'chai';
import {
  eventsStream, isTerminalWorkflowEvent, MAX_EVENT_MESSAGE_LENGTH, parseWorkflowEvent, workflowEventFields, WORKFLOW_EVENT_KINDS,
} from '../../../core/events';

describe('workflow events', () => {
  it('should name the stream of an execution events.<executionId>', () => {
    expect(eventsStream('e-1')).to.equal('events.e-1');
  });

  it('should write flat text fields and read them back', () => {
    const f = workflowEventFields({
      kind: 'step_failed', executionId: 'e1', step: 'enrich', index: 3, error: { code: 'WEFT_X', message: 'boom' }, atMs: 1234,
    });
    expect(f).to.deep.equal({ kind: 'step_failed', execution_id: 'e1', step: 'enrich', index: '3', error_code: 'WEFT_X', error_message: 'boom', at_ms: '1234' });
    expect(parseWorkflowEvent({ id: '1-0', fields: f })).to.deep.equal({
      id: '1-0', kind: 'step_failed', executionId: 'e1', step: 'enrich', index: 3, error: { code: 'WEFT_X', message: 'boom' }, atMs: 1234,
    });
    const p = workflowEventFields({ kind: 'progress', executionId: 'e1', percent: 12.5, message: 'm', atMs: 1 });
    expect(parseWorkflowEvent({ id: '2-0', fields: p })).to.deep.equal({ id: '2-0', kind: 'progress', executionId: 'e1', percent: 12.5, message: 'm', atMs: 1 });
  });

  it('should stamp atMs with now when it is not given, and cut long messages', () => {
    const before = Date.now();
    const f = workflowEventFields({ kind: 'progress', executionId: 'e', message: 'x'.repeat(MAX_EVENT_MESSAGE_LENGTH + 50) });
    expect(Number(f.at_ms)).to.be.within(before, Date.now());
    expect((f.message as string).length).to.equal(MAX_EVENT_MESSAGE_LENGTH + 1);
  });

  it('should return undefined for entries that are not workflow events, and never throw', () => {
    const bad: Record<string, unknown>[] = [
      {}, { kind: 'nope', execution_id: 'e', at_ms: '1' }, { kind: 'progress', at_ms: '1' }, { kind: 'progress', execution_id: 'e' },
      { kind: 'progress', execution_id: 'e', at_ms: 'soon' }, { kind: 42, execution_id: 'e', at_ms: '1' },
    ];
    for (const fields of bad) expect(parseWorkflowEvent({ id: '1-0', fields: fields as never }), JSON.stringify(fields)).to.equal(undefined);
    expect(parseWorkflowEvent(null as never)).to.equal(undefined);
    expect(parseWorkflowEvent({ id: '1-0', fields: null as never })).to.equal(undefined);
  });

  it('should leave out malformed optional fields and read Buffers as text', () => {
    const ev = parseWorkflowEvent({ id: '1-0', fields: {
      kind: Buffer.from('progress'), execution_id: 'e', at_ms: '5', percent: '250', index: '-1', message: Buffer.from('hé'),
    } });
    expect(ev).to.deep.equal({ id: '1-0', kind: 'progress', executionId: 'e', atMs: 5, message: 'hé' });
  });

  it('should know the terminal kinds', () => {
    expect(WORKFLOW_EVENT_KINDS.filter(isTerminalWorkflowEvent)).to.deep.equal(['workflow_completed', 'workflow_failed', 'workflow_cancelled']);
  });
});
