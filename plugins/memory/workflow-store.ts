import { FlowError, FlowErrorCode } from '../../core/workflow/errors';
import {
  applyChange, checkChange, checkRecord, isTerminalStatus, WORKFLOW_FAILURES_LIMIT,
  type NewWorkflow, type RecordManyOutcome, type StoredOutput, type UpdateOutcome, type WorkflowChange, type WorkflowRecord,
  type WorkflowState, type WorkflowStore,
} from '../../core/workflow/store';

/** Default retention of a finished execution in the memory store: 1 hour (the Redis store keeps 7 days). */
export const DEFAULT_MEMORY_WORKFLOW_RETENTION_MS = 3_600_000;
/** Default cap on the finished executions the memory store keeps: 10,000. */
export const DEFAULT_MEMORY_WORKFLOW_MAX_FINISHED = 10_000;

/** Options of {@link MemoryWorkflowStore}. */
export interface MemoryWorkflowStoreOptions {
  /**
   * How long a finished (terminal) execution is kept, with its outputs, ms. Default 1 hour
   * ({@link DEFAULT_MEMORY_WORKFLOW_RETENTION_MS}). `0` keeps it until deleted or pushed out by
   * `maxFinished`.
   */
  readonly retentionMs?: number;
  /**
   * The most finished executions kept: past it, the oldest finished is dropped first. Running
   * executions are never dropped and do not count. Default 10,000
   * ({@link DEFAULT_MEMORY_WORKFLOW_MAX_FINISHED}); `0` sets no cap.
   */
  readonly maxFinished?: number;
  /** The clock (for tests). */
  readonly now?: () => number;
}

interface Entry {
  state: WorkflowState;
  /** `<stage>:<index>` to the output, or `undefined` for a recorded failure. */
  readonly outcomes: Map<string, StoredOutput | undefined>;
  /** When a terminal execution is dropped, epoch ms. */
  expiresAtMs?: number;
}

function nonNegativeInteger(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new FlowError(FlowErrorCode.STORE_ARGUMENT_INVALID, `MemoryWorkflowStore: ${name} must be a non-negative integer, got ${String(v)}`);
  }
  return v;
}

const copyOut = (o: StoredOutput): StoredOutput => ({ bytes: Buffer.from(o.bytes), schemaId: o.schemaId });
const copyState = (s: WorkflowState): WorkflowState => ({
  ...s, sizes: [...s.sizes], input: copyOut(s.input),
  failures: s.failures.map((f) => ({ ...f, deadLetter: { ...f.deadLetter } })),
  ...(s.error ? { error: { ...s.error } } : {}),
});

/**
 * The embedded {@link WorkflowStore}: executions in a Map of this process. Values are copied in
 * and out.
 *
 * @remarks
 * Memory stays bounded in a long-running process: a finished execution (with its outputs) is
 * dropped after `retentionMs` (default 1 hour), and at most `maxFinished` finished executions are
 * kept (default 10,000; the oldest finished goes first). Running executions are never dropped.
 * Expired executions are swept on every operation, at most once a second, and an expired one is
 * never returned.
 */
export class MemoryWorkflowStore implements WorkflowStore {
  readonly name = 'memory';
  private readonly entries = new Map<string, Entry>();
  /** The finished executions in the order they finished: the expiry and eviction queue. */
  private readonly finished = new Set<string>();
  /** How long a finished execution is kept, ms (`0`: until deleted or evicted). */
  readonly retentionMs: number;
  /** The most finished executions kept (`0`: no cap). */
  readonly maxFinished: number;
  private readonly now: () => number;
  private lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryWorkflowStoreOptions = {}) {
    this.retentionMs = nonNegativeInteger('retentionMs', options.retentionMs, DEFAULT_MEMORY_WORKFLOW_RETENTION_MS);
    this.maxFinished = nonNegativeInteger('maxFinished', options.maxFinished, DEFAULT_MEMORY_WORKFLOW_MAX_FINISHED);
    this.now = options.now ?? Date.now;
  }

  /** {@inheritDoc WorkflowStore.create} */
  async create(init: NewWorkflow): Promise<{ created: boolean; state: WorkflowState }> {
    this.sweep();
    const found = this.entry(init.executionId);
    if (found) return { created: false, state: copyState(found.state) };
    const state: WorkflowState = {
      executionId: init.executionId, flow: init.flow, status: 'RUNNING', stage: 0, sizes: [1], recorded: 0,
      input: copyOut(init.input), startKey: init.startKey, failures: [], version: 1, createdAtMs: init.nowMs, updatedAtMs: init.nowMs,
    };
    this.entries.set(init.executionId, { state, outcomes: new Map() });
    return { created: true, state: copyState(state) };
  }

  /** {@inheritDoc WorkflowStore.get} */
  async get(executionId: string): Promise<WorkflowState | undefined> {
    this.sweep();
    const e = this.entry(executionId);
    return e && copyState(e.state);
  }

  /** {@inheritDoc WorkflowStore.recordMany} */
  async recordMany(executionId: string, entries: readonly WorkflowRecord[]): Promise<RecordManyOutcome> {
    for (const r of entries) checkRecord(executionId, r);
    this.sweep();
    const e = this.entry(executionId);
    if (!e) return { kinds: entries.map(() => 'missing' as const), state: undefined };
    const kinds = entries.map((r): 'recorded' | 'duplicate' | 'stale' => {
      const s = e.state;
      if (s.status !== 'RUNNING' || s.stage !== r.stage) return 'stale';
      const slot = `${r.stage}:${r.index}`;
      if (e.outcomes.has(slot)) return 'duplicate';
      e.outcomes.set(slot, r.output && copyOut(r.output));
      e.state = {
        ...s, recorded: s.recorded + 1, version: s.version + 1, updatedAtMs: r.nowMs,
        failures: r.failure && s.failures.length < WORKFLOW_FAILURES_LIMIT ? [...s.failures, structuredClone(r.failure)] : s.failures,
      };
      return 'recorded';
    });
    return { kinds, state: copyState(e.state) };
  }

  /** {@inheritDoc WorkflowStore.outputs} */
  async outputs(executionId: string, stage: number, count: number): Promise<(StoredOutput | undefined)[]> {
    this.sweep();
    const e = this.entry(executionId);
    return Array.from({ length: count }, (_, i) => {
      const o = e?.outcomes.get(`${stage}:${i}`);
      return o && copyOut(o);
    });
  }

  /** {@inheritDoc WorkflowStore.update} */
  async update(executionId: string, expectedVersion: number, change: WorkflowChange): Promise<UpdateOutcome> {
    checkChange(change);
    this.sweep();
    const e = this.entry(executionId);
    if (!e || e.state.version !== expectedVersion) return { ok: false, current: e && copyState(e.state) };
    const wasTerminal = isTerminalStatus(e.state.status);
    e.state = applyChange(e.state, change);
    if (!wasTerminal && isTerminalStatus(e.state.status)) this.finish(executionId, e); // a terminal status is final
    return { ok: true, state: copyState(e.state) };
  }

  /** {@inheritDoc WorkflowStore.delete} */
  async delete(executionId: string): Promise<boolean> {
    this.sweep();
    this.finished.delete(executionId);
    return this.entries.delete(executionId);
  }

  /** Forgets everything. */
  async close(): Promise<void> {
    this.entries.clear();
    this.finished.clear();
  }

  /** Executions held (expired ones included until swept), for tests. */
  get size(): number {
    return this.entries.size;
  }

  /** Finished executions held (expired ones included until swept), for tests. */
  get finishedCount(): number {
    return this.finished.size;
  }

  private entry(id: string): Entry | undefined {
    const e = this.entries.get(id);
    if (e?.expiresAtMs !== undefined && e.expiresAtMs <= this.now()) {
      this.drop(id);
      return undefined;
    }
    return e;
  }

  /** Queues a newly finished execution for expiry, and evicts the oldest finished past the cap. */
  private finish(id: string, e: Entry): void {
    if (this.retentionMs > 0) e.expiresAtMs = this.now() + this.retentionMs;
    this.finished.delete(id);
    this.finished.add(id);
    if (this.maxFinished > 0) {
      for (const oldest of this.finished) {
        if (this.finished.size <= this.maxFinished) break;
        this.drop(oldest);
      }
    }
  }

  private drop(id: string): void {
    this.entries.delete(id);
    this.finished.delete(id);
  }

  /**
   * Drops expired executions, at most once a second. Only finished executions expire, in the order
   * they finished (one retention for all): the walk stops at the first one still kept.
   */
  private sweep(): void {
    if (this.retentionMs <= 0) return;
    const now = this.now();
    if (now - this.lastSweepMs < 1000) return;
    this.lastSweepMs = now;
    for (const id of this.finished) {
      const e = this.entries.get(id);
      if (e?.expiresAtMs !== undefined && e.expiresAtMs > now) break;
      this.drop(id);
    }
  }
}
