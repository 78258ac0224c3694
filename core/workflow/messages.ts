import { idempotencyKey } from '../dispatch/idempotency';
import type { Fields } from '../runtime/transport';

/**
 * What travels on the flows queue (`weft.flows`, consumer group `orchestrators`): start messages
 * (a task envelope plus `flow_op=start` and `flow`), cancel messages (`flow_op=cancel`,
 * `execution_id`, `reason`), and the workers' replies to step items (`kind` = `result`, `error` or
 * `progress`; see core/runtime/reply.ts).
 *
 * @packageDocumentation
 */

/** The default flows queue. */
export const FLOWS_QUEUE = 'weft.flows';
/** The orchestrators' consumer group on the flows queue. */
export const ORCHESTRATOR_GROUP = 'orchestrators';
/** The step id of start messages' dispatch records. */
export const START_STEP = '$start';

/** Field names of flow control messages. */
export const FlowField = {
  OP: 'flow_op',
  FLOW: 'flow',
  EXECUTION_ID: 'execution_id',
  REASON: 'reason',
} as const;

/** The idempotency key of an execution's start message (the parent item of its first step). */
export function startKeyOf(flowName: string, executionId: string): string {
  return idempotencyKey({ pipeline: flowName, step: START_STEP, businessKey: executionId, lineageIndex: 0 });
}

/** The idempotency key of item `index` of step `step` of an execution. */
export function stepKeyOf(flowName: string, step: string, executionId: string, index: number): string {
  return idempotencyKey({ pipeline: flowName, step, businessKey: executionId, lineageIndex: index });
}

/** Fields of a cancel message. */
export function cancelMessage(executionId: string, reason: string): Fields {
  return { [FlowField.OP]: 'cancel', [FlowField.EXECUTION_ID]: executionId, [FlowField.REASON]: reason };
}

/** Reads a text field. */
export function text(f: Fields, name: string): string {
  const v = f[name];
  return v === undefined ? '' : typeof v === 'string' ? v : v.toString('utf8');
}
