import { WeftError } from '../errors';

/** Every code the workflow layer raises (see docs/workflows.md). */
export const FlowErrorCode = {
  /** A flow definition is malformed (no step, duplicate step name, a field that is not a repeated message). */
  FLOW_INVALID: 'WEFT_FLOW_INVALID',
  /** A step cannot read what the step before it writes (schema compatibility of an edge). */
  EDGE_INCOMPATIBLE: 'WEFT_FLOW_EDGE_INCOMPATIBLE',
  /** A flow was used before `app.flows.register(flow)`. */
  NOT_REGISTERED: 'WEFT_FLOW_NOT_REGISTERED',
  /** Another flow with the same name but other steps is registered already. */
  CONFLICT: 'WEFT_FLOW_CONFLICT',
  /** The app has no `workflowStore` port. */
  STORE_MISSING: 'WEFT_FLOW_STORE_MISSING',
  /** A step ended FAILED_FINAL and the flow failed. */
  FAILED: 'WEFT_FLOW_FAILED',
  /** The flow was cancelled. */
  CANCELLED: 'WEFT_FLOW_CANCELLED',
  /** No flow with that execution id is known (never started, or expired after its retention). */
  NOT_FOUND: 'WEFT_FLOW_NOT_FOUND',
  /** A store argument is malformed. */
  STORE_ARGUMENT_INVALID: 'WEFT_FLOW_STORE_ARGUMENT_INVALID',
  /** `result({ timeoutMs })` gave up before the flow ended. */
  TIMEOUT: 'WEFT_FLOW_TIMEOUT',
  /** A message on the flows queue is neither a start, a cancel nor a reply (dead-lettered). */
  MESSAGE_INVALID: 'WEFT_FLOW_MESSAGE_INVALID',
  /** A flows-queue message whose handling failed too many times (dead-lettered). */
  MESSAGE_FAILED: 'WEFT_FLOW_MESSAGE_FAILED',
} as const;

/** A workflow error: a {@link WeftError} with one of the {@link FlowErrorCode} codes. */
export class FlowError extends WeftError {}

/**
 * Where the dead letter of a failed step is: its queue, its id there when the failure reply named
 * it (`app.deadLetters.inspect(queue, id)`), and the item's idempotency key.
 */
export interface DeadLetterLocation {
  readonly queue: string;
  readonly id?: string;
  readonly idempotencyKey: string;
}

/** One failed step item of a flow. */
export interface FlowStepFailure {
  /** The step's name. */
  readonly step: string;
  /** The stage (position of the step in the flow, from 0). */
  readonly stage: number;
  /** The item's lineage index (the element index in a fan-out, else 0). */
  readonly index: number;
  /** The remote error's code, e.g. `WEFT_TASK_FAILED`. */
  readonly code: string;
  readonly message: string;
  /** Where the item's dead letter is (list it with `app.deadLetters`). */
  readonly deadLetter: DeadLetterLocation;
  /** `true` when the step has `continueOnError`: the flow went on without this item. */
  readonly continued: boolean;
}

/**
 * A flow failed: a step item ended FAILED_FINAL in a step without `continueOnError`. The message
 * names the step, the error and the dead letter; `failure` has them as fields.
 */
export class FlowFailedError extends FlowError {
  constructor(readonly executionId: string, readonly flow: string, readonly failure: FlowStepFailure) {
    super(FlowErrorCode.FAILED,
      `flow ${flow} (execution ${executionId}) failed at step '${failure.step}'` +
      `${failure.index > 0 ? ` item ${failure.index}` : ''}: ${failure.code}: ${failure.message}. ` +
      `The dead letter is ${failure.deadLetter.id ? `${failure.deadLetter.id} ` : ''}on queue '${failure.deadLetter.queue}' with idempotency key ${failure.deadLetter.idempotencyKey}: ` +
      'inspect or replay it with app.deadLetters, or add continueOnError to the step if the flow may go on without it.');
  }
}

/** A flow was cancelled (`app.flows.cancel`). */
export class FlowCancelledError extends FlowError {
  constructor(readonly executionId: string, readonly flow: string, readonly reason: string) {
    super(FlowErrorCode.CANCELLED, `flow ${flow} (execution ${executionId}) was cancelled${reason ? `: ${reason}` : ''}`);
  }
}
