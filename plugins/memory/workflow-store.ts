import {
  applyChange, checkChange, checkRecord, DEFAULT_WORKFLOW_RETENTION_MS, isTerminalStatus, WORKFLOW_FAILURES_LIMIT,
  recordOne, type NewWorkflow, type RecordManyOutcome, type RecordOutcome, type StoredOutput, type UpdateOutcome, type WorkflowChange, type WorkflowRecord,
  type WorkflowState, type WorkflowStore,
} from '../../core/workflow/store';

/** Options of {@link MemoryWorkflowStore}. */
export interface MemoryWorkflowStoreOptions {
  /** How long a terminal execution is kept, ms. Default 7 days. `0` keeps it until deleted. */
  readonly retentionMs?: number;
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

const copyOut = (o: StoredOutput): StoredOutput => ({ bytes: Buffer.from(o.bytes), schemaId: o.schemaId });
const copyState = (s: WorkflowState): WorkflowState => ({
  ...s, sizes: [...s.sizes], input: copyOut(s.input),
  failures: s.failures.map((f) => ({ ...f, deadLetter: { ...f.deadLetter } })),
  ...(s.error ? { error: { ...s.error } } : {}),
});

/**
 * The embedded {@link WorkflowStore}: executions in a Map of this process. Values are copied in
 * and out. Terminal executions are dropped after the retention (checked on access and on create).
 */
export class MemoryWorkflowStore implements WorkflowStore {
  readonly name = 'memory';
  private readonly entries = new Map<string, Entry>();
  private readonly retentionMs: number;
  private readonly now: () => number;

  constructor(options: MemoryWorkflowStoreOptions = {}) {
    this.retentionMs = options.retentionMs ?? DEFAULT_WORKFLOW_RETENTION_MS;
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
    const e = this.entry(executionId);
    return e && copyState(e.state);
  }

  /** {@inheritDoc WorkflowStore.record} */
  record(executionId: string, r: WorkflowRecord): Promise<RecordOutcome> {
    return recordOne(this, executionId, r);
  }

  /** {@inheritDoc WorkflowStore.recordMany} */
  async recordMany(executionId: string, entries: readonly WorkflowRecord[]): Promise<RecordManyOutcome> {
    for (const r of entries) checkRecord(executionId, r);
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
    const e = this.entry(executionId);
    return Array.from({ length: count }, (_, i) => {
      const o = e?.outcomes.get(`${stage}:${i}`);
      return o && copyOut(o);
    });
  }

  /** {@inheritDoc WorkflowStore.update} */
  async update(executionId: string, expectedVersion: number, change: WorkflowChange): Promise<UpdateOutcome> {
    checkChange(change);
    const e = this.entry(executionId);
    if (!e || e.state.version !== expectedVersion) return { ok: false, current: e && copyState(e.state) };
    e.state = applyChange(e.state, change);
    if (isTerminalStatus(e.state.status) && this.retentionMs > 0) e.expiresAtMs = this.now() + this.retentionMs;
    return { ok: true, state: copyState(e.state) };
  }

  /** {@inheritDoc WorkflowStore.delete} */
  async delete(executionId: string): Promise<boolean> {
    return this.entries.delete(executionId);
  }

  /** Forgets everything. */
  async close(): Promise<void> {
    this.entries.clear();
  }

  /** Executions held (expired ones included until swept), for tests. */
  get size(): number {
    return this.entries.size;
  }

  private entry(id: string): Entry | undefined {
    const e = this.entries.get(id);
    if (e?.expiresAtMs !== undefined && e.expiresAtMs <= this.now()) {
      this.entries.delete(id);
      return undefined;
    }
    return e;
  }

  private lastSweepMs = 0;

  /** Drops expired executions, at most once a second. */
  private sweep(): void {
    const now = this.now();
    if (now - this.lastSweepMs < 1000) return;
    this.lastSweepMs = now;
    for (const [id, e] of this.entries) if (e.expiresAtMs !== undefined && e.expiresAtMs <= now) this.entries.delete(id);
  }
}
