import type { Fields } from '../runtime/transport';
import type { EventAppendOptions, EventLog, LoggedEvent } from './event-log';

/**
 * Workflow events: what `app.subscribe(executionId)` yields. They travel as entries of the event
 * stream `events.<executionId>` (see {@link eventsStream}), flat text fields (see
 * {@link WorkflowEventField}), so any language can read them.
 *
 * @packageDocumentation
 */

/** Every kind of workflow event, in the order a step goes through them. */
export const WORKFLOW_EVENT_KINDS = Object.freeze([
  'step_started', 'progress', 'step_completed', 'step_failed', 'workflow_completed', 'workflow_failed', 'workflow_cancelled',
] as const);

/** The kind of a {@link WorkflowEvent}. */
export type WorkflowEventKind = (typeof WORKFLOW_EVENT_KINDS)[number];

/** The kinds that end an execution: a subscription ends after one of them. */
export const TERMINAL_WORKFLOW_EVENT_KINDS: readonly WorkflowEventKind[] = Object.freeze(['workflow_completed', 'workflow_failed', 'workflow_cancelled']);

const KINDS: ReadonlySet<string> = new Set(WORKFLOW_EVENT_KINDS);
const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_WORKFLOW_EVENT_KINDS);

/** One workflow event, as a subscriber sees it. */
export interface WorkflowEvent {
  /** The event-log entry id. */
  readonly id: string;
  readonly kind: WorkflowEventKind;
  readonly executionId: string;
  /** The step name (step events). */
  readonly step?: string;
  /** The lineage index of the step's item, when known (step events). */
  readonly index?: number;
  /** 0 to 100 (`progress`). */
  readonly percent?: number;
  /** What the task said with its progress (`progress`). */
  readonly message?: string;
  /** Why it failed (`step_failed`, `workflow_failed`, `workflow_cancelled`). */
  readonly error?: { readonly code: string; readonly message: string };
  /** When it happened, epoch ms. */
  readonly atMs: number;
}

/** A workflow event to append: without its entry id; `atMs` defaults to now. */
export type NewWorkflowEvent = Omit<WorkflowEvent, 'id' | 'atMs'> & { readonly atMs?: number };

/** The field names of a workflow event entry. */
export const WorkflowEventField = {
  KIND: 'kind',
  EXECUTION_ID: 'execution_id',
  STEP: 'step',
  /** Decimal. */
  INDEX: 'index',
  /** Decimal, 0 to 100. */
  PERCENT: 'percent',
  MESSAGE: 'message',
  ERROR_CODE: 'error_code',
  ERROR_MESSAGE: 'error_message',
  /** Epoch ms, decimal. */
  AT_MS: 'at_ms',
} as const;

/** Retention of an execution's event stream: about this many newest entries (`MAXLEN ~`). */
export const EVENTS_MAX_LEN = 10_000;
/** An execution's event stream expires this long after its last event: 24 hours. */
export const EVENTS_TTL_MS = 24 * 3600 * 1000;
/** The append options of workflow events: {@link EVENTS_MAX_LEN} and {@link EVENTS_TTL_MS}. */
export const WORKFLOW_EVENT_RETENTION: EventAppendOptions = Object.freeze({ maxLen: EVENTS_MAX_LEN, ttlMs: EVENTS_TTL_MS });

/** Longest `message` kept in an event, characters; longer ones are cut. */
export const MAX_EVENT_MESSAGE_LENGTH = 2000;

/** The logical event stream of an execution: `events.<executionId>`. */
export function eventsStream(executionId: string): string {
  return `events.${executionId}`;
}

/** `true` for the kinds that end an execution (`workflow_completed`, `workflow_failed`, `workflow_cancelled`). */
export function isTerminalWorkflowEvent(kind: string): boolean {
  return TERMINAL.has(kind);
}

/**
 * The entry fields of an event. Optional parts that are absent are left out; `message` and error
 * messages are cut to {@link MAX_EVENT_MESSAGE_LENGTH}.
 *
 * @example
 * ```ts
 * await log.append(eventsStream(id), workflowEventFields({ kind: 'progress', executionId: id, step: 'enrich', percent: 40 }), WORKFLOW_EVENT_RETENTION);
 * ```
 */
export function workflowEventFields(ev: NewWorkflowEvent): Fields {
  const f: Record<string, string> = {
    [WorkflowEventField.KIND]: ev.kind,
    [WorkflowEventField.EXECUTION_ID]: ev.executionId,
    [WorkflowEventField.AT_MS]: String(Math.trunc(ev.atMs ?? Date.now())),
  };
  if (ev.step !== undefined) f[WorkflowEventField.STEP] = ev.step;
  if (ev.index !== undefined && Number.isSafeInteger(ev.index) && ev.index >= 0) f[WorkflowEventField.INDEX] = String(ev.index);
  if (ev.percent !== undefined && Number.isFinite(ev.percent)) f[WorkflowEventField.PERCENT] = String(ev.percent);
  if (ev.message !== undefined) f[WorkflowEventField.MESSAGE] = cut(ev.message);
  if (ev.error) {
    f[WorkflowEventField.ERROR_CODE] = ev.error.code;
    f[WorkflowEventField.ERROR_MESSAGE] = cut(ev.error.message);
  }
  return f;
}

/**
 * The typed view of an entry, or `undefined` for an entry that is not a workflow event (an unknown
 * kind, no execution id, no valid `at_ms`). Never throws: a malformed optional field is left out.
 */
export function parseWorkflowEvent(logged: LoggedEvent): WorkflowEvent | undefined {
  try {
    const f = logged.fields;
    const kind = str(f[WorkflowEventField.KIND]);
    const executionId = str(f[WorkflowEventField.EXECUTION_ID]);
    const atMs = Number(str(f[WorkflowEventField.AT_MS]));
    if (!kind || !KINDS.has(kind) || !executionId || !str(f[WorkflowEventField.AT_MS]) || !Number.isFinite(atMs)) return undefined;
    const out: { -readonly [K in keyof WorkflowEvent]: WorkflowEvent[K] } = { id: logged.id, kind: kind as WorkflowEventKind, executionId, atMs };
    const step = str(f[WorkflowEventField.STEP]);
    if (step !== undefined) out.step = step;
    const index = num(f[WorkflowEventField.INDEX]);
    if (index !== undefined && Number.isSafeInteger(index) && index >= 0) out.index = index;
    const percent = num(f[WorkflowEventField.PERCENT]);
    if (percent !== undefined && percent >= 0 && percent <= 100) out.percent = percent;
    const message = str(f[WorkflowEventField.MESSAGE]);
    if (message !== undefined) out.message = message;
    const code = str(f[WorkflowEventField.ERROR_CODE]);
    if (code !== undefined) out.error = { code, message: str(f[WorkflowEventField.ERROR_MESSAGE]) ?? '' };
    return out;
  } catch {
    return undefined;
  }
}

/**
 * Appends workflow events to an event log with the standard retention: the `emit` function the
 * orchestrator and the worker use.
 *
 * @example
 * ```ts
 * const emit = workflowEventEmitter(log);
 * await emit('exec-1', { kind: 'workflow_completed' });
 * ```
 */
export function workflowEventEmitter(log: EventLog): (executionId: string, event: Omit<NewWorkflowEvent, 'executionId'>) => Promise<void> {
  return async (executionId, event) => {
    await log.append(eventsStream(executionId), workflowEventFields({ ...event, executionId }), WORKFLOW_EVENT_RETENTION);
  };
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}

function num(v: unknown): number | undefined {
  const s = str(v);
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function cut(s: string): string {
  return s.length > MAX_EVENT_MESSAGE_LENGTH ? `${s.slice(0, MAX_EVENT_MESSAGE_LENGTH)}…` : s;
}
