import { WeftError } from '../errors';
import { CancelledError } from '../runtime/errors';
import type { TaskEnvelope } from '../tasks/wire';
import { EventsErrorCode } from './errors';
import type { NewWorkflowEvent } from './workflow-events';

/**
 * The pieces of the worker's event reporting that do not need the worker: the step name of an
 * envelope, the two forms of `ctx.progress`, and telling a cancellation apart from other aborts.
 *
 * @packageDocumentation
 */

/** Appends a workflow event for an execution; the worker's wiring never rejects (it logs instead). */
export type WorkflowEventSink = (executionId: string, event: Omit<NewWorkflowEvent, 'executionId'>) => Promise<void>;

/** `ctx.progress(percent)` was given something that is not a percent (code `WEFT_PROGRESS_INVALID`). */
export class ProgressInvalidError extends WeftError {
  constructor(detail: string) {
    super(EventsErrorCode.PROGRESS_INVALID, `ctx.progress(percent, message?): ${detail}. Pass a finite number from 0 to 100, and a string message.`);
  }
}

/** The step an envelope runs: its `step_id`, else the task name without its version. */
export function stepOf(env: TaskEnvelope): string {
  if (env.stepId) return env.stepId;
  const at = env.task.lastIndexOf('@');
  return at > 0 ? env.task.slice(0, at) : env.task;
}

/**
 * Appends a step or progress event of the message `env` to its execution's stream, named by its
 * step and (when the message carries it) its lineage index. Nothing without a sink or an execution.
 */
export function emitStepEvent(
  emit: WorkflowEventSink | undefined, env: TaskEnvelope, event: Omit<NewWorkflowEvent, 'executionId' | 'step' | 'index'>,
): Promise<void> | undefined {
  if (!emit || !env.executionId) return undefined;
  return emit(env.executionId, { ...event, step: stepOf(env), ...(env.lineageIndex === undefined ? {} : { index: env.lineageIndex }) });
}

/** What one `ctx.progress` call sends: the reply value (as before) and the progress event. */
export interface ProgressReport {
  /** The value of the progress reply (`handle.status().progress`). */
  readonly reply: unknown;
  readonly event: Omit<NewWorkflowEvent, 'executionId' | 'step'>;
}

/**
 * Reads the arguments of `ctx.progress`: `(percent: number, message?: string)`, or the older
 * `(value: unknown)` with any JSON value, sent as the reply as it is; its event carries the value's
 * `percent` and `message` when it is such an object (`{ percent: 40, message: '...' }`), else its
 * JSON as the message.
 *
 * @throws ProgressInvalidError (`WEFT_PROGRESS_INVALID`) for a percent outside 0..100, not finite,
 *   or a message that is not a string.
 */
export function progressReport(value: unknown, message: unknown): ProgressReport {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0 || value > 100) throw new ProgressInvalidError(`percent must be from 0 to 100, got ${String(value)}`);
    if (message !== undefined && typeof message !== 'string') throw new ProgressInvalidError(`message must be a string, got ${typeof message}`);
    return message === undefined
      ? { reply: { percent: value }, event: { kind: 'progress', percent: value } }
      : { reply: { percent: value, message }, event: { kind: 'progress', percent: value, message } };
  }
  if (message !== undefined) throw new ProgressInvalidError(`with a message, the first argument must be a percent (number), got ${typeof value}`);
  // `{ percent, message }` in the older form reads as the newer one for the event (not validated: the old form never was).
  const o = value as { percent?: unknown; message?: unknown } | null;
  if (typeof o === 'object' && o !== null && typeof o.percent === 'number' && Number.isFinite(o.percent) && o.percent >= 0 && o.percent <= 100) {
    return { reply: value, event: typeof o.message === 'string'
      ? { kind: 'progress', percent: o.percent, message: o.message }
      : { kind: 'progress', percent: o.percent } };
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  return { reply: value, event: text === undefined ? { kind: 'progress' } : { kind: 'progress', message: text } };
}

/** The cancellation that aborted `signal`, if that is why it fired (not a deadline, not a shutdown). */
export function cancellationOf(signal: AbortSignal | undefined): CancelledError | undefined {
  return signal?.aborted && signal.reason instanceof CancelledError ? signal.reason : undefined;
}
