/**
 * Typed workflows: the definition API, the flow API of an app, the orchestrator and the workflow
 * store port. See docs/workflows.md.
 *
 * @packageDocumentation
 */
export { flow, Flow, FanOut, FlowBuilder } from './definition';
export type {
  AnyFlow, FlowInput, FlowOutput, FlowStage, StageKind, StepOptions, ForEachOptions, CollectOptions, EdgeCheck, FlowEdgeMismatch,
} from './definition';
export { FlowError, FlowErrorCode, FlowFailedError, FlowCancelledError } from './errors';
export type { FlowStepFailure, DeadLetterLocation } from './errors';
export { Flows, FlowHandle } from './flows';
export type { FlowStartOptions, FlowStatus, FlowOutcome, FlowsDeps } from './flows';
export { Orchestrator } from './orchestrator';
export type { OrchestratorOptions, OrchestratorDeps, FlowEvent, FlowEventKind, FlowEventEmitter } from './orchestrator';
export { FlowRegistry, checkFlowEdges } from './register';
export { FLOWS_QUEUE, ORCHESTRATOR_GROUP } from './messages';
export {
  DEFAULT_WORKFLOW_RETENTION_MS, WORKFLOW_FAILURES_LIMIT, isTerminalStatus,
} from './store';
export type {
  WorkflowStore, WorkflowState, WorkflowStatus, StoredOutput, NewWorkflow, WorkflowRecord, RecordManyOutcome, WorkflowChange, UpdateOutcome, WorkflowError,
} from './store';
