import { WeftError } from '../errors';

/** Codes raised by the runtime. */
export const RuntimeErrorCode = {
  TASK_FAILED: 'WEFT_TASK_FAILED',
  DEADLINE_EXCEEDED: 'WEFT_DEADLINE_EXCEEDED',
  SCHEMA_TYPE_MISMATCH: 'WEFT_SCHEMA_TYPE_MISMATCH',
  TASK_INSTANTIATION_FAILED: 'WEFT_TASK_INSTANTIATION_FAILED',
  OUTPUT_INVALID: 'WEFT_OUTPUT_INVALID',
  CLIENT_CLOSED: 'WEFT_CLIENT_CLOSED',
  /** The execution was cancelled (`app.cancel`): the task was aborted, or not started. Never retried. */
  CANCELLED: 'WEFT_CANCELLED',
} as const;

/**
 * The execution was cancelled with `app.cancel(executionId, reason)` (code `WEFT_CANCELLED`). A
 * running task's `ctx.signal` fires with it as the reason; a delivery of a cancelled execution that
 * had not started ends with it, as a final failure. Never retried.
 */
export class CancelledError extends WeftError {
  /** Read by the dispatch layer's `classifyError`: never retried. */
  readonly retryable = false;
  constructor(readonly executionId: string, readonly reason: string) {
    super(RuntimeErrorCode.CANCELLED, `execution ${executionId} was cancelled${reason ? `: ${reason}` : ''}. Submit it again (with a new execution id) to run it.`);
  }
}

/**
 * A task failed on a worker. `code` is the remote error's own code when it had one (a
 * `WeftError` or any error with a string `code`), else `WEFT_TASK_FAILED`; `message` is its message.
 */
export class RemoteTaskError extends WeftError {
  readonly remote = true;
  constructor(
    code: string, message: string, readonly task: string, readonly executionId: string,
    /** The id of the item's dead letter in its queue's dead letters (`app.deadLetters.inspect(queue, id)`), when one was written. */
    readonly deadLetterId?: string,
  ) {
    super(code || RuntimeErrorCode.TASK_FAILED,
      `task ${task} (execution ${executionId}) failed on a worker: ${message}${deadLetterId ? ` (dead letter ${deadLetterId})` : ''}`);
  }
}

/** The client was closed while a task was awaited. */
export class ClientClosedError extends WeftError {
  constructor(executionId: string) {
    super(RuntimeErrorCode.CLIENT_CLOSED,
      `the client was closed before the result of execution ${executionId} arrived; the task may still run. ` +
      'Keep the client open until results you await have arrived.');
  }
}

/** The code of any thrown value: its own string `code`, else the fallback. */
export function codeOf(e: unknown, fallback: string): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' && c.length > 0 && c.length < 100 ? c : fallback;
}

/** The message of any thrown value, bounded. */
export function messageOf(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.length > 2000 ? `${m.slice(0, 2000)}…` : m;
}
