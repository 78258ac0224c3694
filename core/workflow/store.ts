import { FlowError, FlowErrorCode, type FlowStepFailure } from './errors';

/**
 * The workflow state store port (`workflowStore`, token `WORKFLOW_STORE`): the durable state of
 * each flow execution, shared by every orchestrator instance. Every change is atomic; whole-state
 * changes are compare-and-set on `version`.
 *
 * @packageDocumentation
 */

/** Where a flow execution stands. */
export type WorkflowStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** Every status, in order. */

/** `true` for SUCCEEDED, FAILED and CANCELLED. */
export function isTerminalStatus(s: WorkflowStatus): boolean {
  return s !== 'RUNNING';
}

/** A step output as stored: protobuf bytes and the schema id of the message they encode. */
export interface StoredOutput {
  readonly bytes: Buffer;
  readonly schemaId: string;
}

/** Why a flow ended FAILED. */
export interface WorkflowError {
  readonly code: string;
  readonly message: string;
}

/** The state of one flow execution (without the step outputs, read with {@link WorkflowStore.outputs}). */
export interface WorkflowState {
  readonly executionId: string;
  /** The flow's name. */
  readonly flow: string;
  readonly status: WorkflowStatus;
  /** The current stage: the position of the running step in the flow, from 0. */
  readonly stage: number;
  /** Items dispatched per stage, by stage (1 for a single step, the element count for a fan-out). */
  readonly sizes: readonly number[];
  /** Items of the current stage with a recorded outcome (an output or a failure). */
  readonly recorded: number;
  /** The flow's input (stage 0's input). */
  readonly input: StoredOutput;
  /** The idempotency key of the start message: the parent item of stage 0. */
  readonly startKey: string;
  /** Step items that failed, in the order they were recorded (at most {@link WORKFLOW_FAILURES_LIMIT}). */
  readonly failures: readonly FlowStepFailure[];
  /** Set when FAILED. */
  readonly error?: WorkflowError;
  /** Set when CANCELLED. */
  readonly cancelReason?: string;
  /** Incremented by every change: the compare-and-set token of {@link WorkflowStore.update}. */
  readonly version: number;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

/** The most failures a state lists; later ones are counted in the flow but not listed. */
export const WORKFLOW_FAILURES_LIMIT = 1000;

/** Default retention of a terminal execution in the Redis store: 7 days (the memory store keeps 1 hour). */
export const DEFAULT_WORKFLOW_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** What {@link WorkflowStore.create} needs. */
export interface NewWorkflow {
  readonly executionId: string;
  readonly flow: string;
  readonly input: StoredOutput;
  readonly startKey: string;
  readonly nowMs: number;
}

/** One outcome to record: exactly one of `output` and `failure`. */
export interface WorkflowRecord {
  readonly stage: number;
  readonly index: number;
  readonly output?: StoredOutput;
  readonly failure?: FlowStepFailure;
  readonly nowMs: number;
}

/** What {@link WorkflowStore.recordMany} did: per entry, and the state after all of them. */
export interface RecordManyOutcome {
  readonly kinds: readonly ('recorded' | 'duplicate' | 'stale' | 'missing')[];
  readonly state: WorkflowState | undefined;
}

/** A change of {@link WorkflowStore.update}. */
export interface WorkflowChange {
  /** Moves to this stage (`recorded` restarts at 0) with `size` items. */
  readonly stage?: number;
  readonly size?: number;
  /** A terminal status: the state then expires after the store's retention. */
  readonly status?: Exclude<WorkflowStatus, 'RUNNING'>;
  readonly error?: WorkflowError;
  readonly cancelReason?: string;
  readonly nowMs: number;
}

/** What {@link WorkflowStore.update} did: the new state, or where it stands when the version did not match. */
export type UpdateOutcome =
  | { readonly ok: true; readonly state: WorkflowState }
  | { readonly ok: false; readonly current: WorkflowState | undefined };

/**
 * Durable state of flow executions (see docs/workflows.md). Implementations: `MemoryWorkflowStore`
 * (plugins/memory), `RedisWorkflowStore` (plugins/redis, Lua scripts). Every implementation must
 * pass `workflowStoreConformance` from core/testing.
 */
export interface WorkflowStore {
  readonly name: string;
  init?(): Promise<void>;
  close(): Promise<void>;
  /** Idempotent insert of a RUNNING execution at stage 0 with one item. An existing one is returned, never changed. */
  create(init: NewWorkflow): Promise<{ readonly created: boolean; readonly state: WorkflowState }>;
  get(executionId: string): Promise<WorkflowState | undefined>;
  /**
   * Records outcomes of one execution, in order and atomically (one round trip on Redis). Each
   * entry, the outcome of item `index` of `stage`, is recorded once: only while the execution is
   * RUNNING at that stage, and only if that index has no outcome yet (so a redelivered reply
   * counts once); a failure is appended to `failures`. `kinds[i]` says what happened to
   * `entries[i]`: `recorded` (new: `recorded` of the state counts it), `duplicate` (that index
   * already had an outcome), `stale` (not RUNNING, or at another stage) or `missing` (no such
   * execution; `state` is then `undefined`). `state` is the state after all of them.
   */
  recordMany(executionId: string, entries: readonly WorkflowRecord[]): Promise<RecordManyOutcome>;
  /** The outputs of a stage, by index from 0 to `count - 1`; `undefined` where there is none (a failed item). */
  outputs(executionId: string, stage: number, count: number): Promise<(StoredOutput | undefined)[]>;
  /** Compare-and-set: applies `change` only when the state's version is `expectedVersion`. */
  update(executionId: string, expectedVersion: number, change: WorkflowChange): Promise<UpdateOutcome>;
  /** Deletes an execution and its outputs. */
  delete(executionId: string): Promise<boolean>;
}

/** Throws `WEFT_FLOW_STORE_ARGUMENT_INVALID` for a malformed record entry or change. */
export function checkRecord(executionId: string, e: WorkflowRecord): void {
  if (!executionId) throw new FlowError(FlowErrorCode.STORE_ARGUMENT_INVALID, 'executionId must not be empty');
  if (!Number.isSafeInteger(e.stage) || e.stage < 0 || !Number.isSafeInteger(e.index) || e.index < 0) {
    throw new FlowError(FlowErrorCode.STORE_ARGUMENT_INVALID, `stage and index must be non-negative integers (got ${e.stage}, ${e.index})`);
  }
  if ((e.output === undefined) === (e.failure === undefined)) {
    throw new FlowError(FlowErrorCode.STORE_ARGUMENT_INVALID, 'record exactly one of output and failure');
  }
}

/** Throws `WEFT_FLOW_STORE_ARGUMENT_INVALID` for a malformed change. */
export function checkChange(c: WorkflowChange): void {
  if ((c.stage === undefined) !== (c.size === undefined)) {
    throw new FlowError(FlowErrorCode.STORE_ARGUMENT_INVALID, 'stage and size go together');
  }
  if (c.stage !== undefined && (!Number.isSafeInteger(c.stage) || c.stage < 0 || !Number.isSafeInteger(c.size) || c.size! < 0)) {
    throw new FlowError(FlowErrorCode.STORE_ARGUMENT_INVALID, `stage and size must be non-negative integers (got ${c.stage}, ${c.size})`);
  }
  if (c.status !== undefined && !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(c.status)) {
    throw new FlowError(FlowErrorCode.STORE_ARGUMENT_INVALID, `status must be SUCCEEDED, FAILED or CANCELLED (got ${String(c.status)})`);
  }
}

/** The state after `change`, version incremented (shared by the implementations that merge in JS). */
export function applyChange(s: WorkflowState, c: WorkflowChange): WorkflowState {
  const sizes = [...s.sizes];
  if (c.stage !== undefined) sizes[c.stage] = c.size!;
  return {
    ...s,
    ...(c.stage === undefined ? {} : { stage: c.stage, recorded: 0 }),
    sizes,
    ...(c.status === undefined ? {} : { status: c.status }),
    ...(c.error === undefined ? {} : { error: c.error }),
    ...(c.cancelReason === undefined ? {} : { cancelReason: c.cancelReason }),
    version: s.version + 1,
    updatedAtMs: c.nowMs,
  };
}

/** The JSON form of a state without its input bytes (the Redis store keeps it as one field). */
export type WorkflowMeta = Omit<WorkflowState, 'input'>;

/** Reads a {@link WorkflowMeta} back from JSON, normalising what Lua's cjson changes (`[]` becomes `{}`). */
export function parseMeta(json: string): WorkflowMeta {
  const m = JSON.parse(json) as WorkflowMeta & { sizes: unknown; failures: unknown };
  return {
    ...m,
    sizes: Array.isArray(m.sizes) ? m.sizes : [],
    failures: Array.isArray(m.failures) ? m.failures : [],
  };
}
