/**
 * Event streams: the {@link EventLog} port, workflow events (progress, step and workflow
 * lifecycle), subscriptions, and the cancellation broadcast. See docs/events.md.
 *
 * @packageDocumentation
 */
export type { EventLog, LoggedEvent, EventAppendOptions, EventReadOptions } from './event-log';
export type { AbortableReadOptions } from './abortable';
export {
  EventsErrorCode, EventLogArgumentError, EventLogClosedError, EventLogError, EventLogMissingError,
  checkAppend, checkRead, checkEntryId, checkStreamName, parseEntryId,
  DEFAULT_EVENT_MAX_LEN, DEFAULT_READ_COUNT, MAX_READ_COUNT, MAX_STREAM_NAME_LENGTH,
} from './errors';
export {
  WORKFLOW_EVENT_KINDS, TERMINAL_WORKFLOW_EVENT_KINDS, WorkflowEventField, EVENTS_MAX_LEN, EVENTS_TTL_MS,
  WORKFLOW_EVENT_RETENTION, MAX_EVENT_MESSAGE_LENGTH, eventsStream, isTerminalWorkflowEvent, workflowEventFields,
  parseWorkflowEvent, workflowEventEmitter,
} from './workflow-events';
export type { WorkflowEvent, WorkflowEventKind, NewWorkflowEvent } from './workflow-events';
export { WorkflowSubscription, subscribeWorkflowEvents } from './subscription';
export type { SubscribeOptions } from './subscription';
export {
  CancellationFeed, CONTROL_STREAM, CONTROL_MAX_LEN, DEFAULT_REMEMBERED_CANCELLATIONS, ControlField,
  broadcastCancellation, cancellationFields, parseCancellation,
} from './cancellation';
export type { Cancellation, CancellationFeedOptions, CancellationListener } from './cancellation';
