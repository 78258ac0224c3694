import {
  applyTransition, checkDispatchKey, checkScanRequest, checkTransition, copyRecord, decodeScanCursor, encodeScanCursor,
  isTerminalState, newRecordFrom,
} from '../../core/dispatch';
import type {
  CreateDispatchResult, DispatchKey, DispatchRecord, DispatchScanPage, DispatchScanRequest, DispatchStore, DispatchTransition,
  NewDispatchRecord, TransitionDispatchResult,
} from '../../core/dispatch';

/** The map key of a record: unambiguous for any three strings. */
function mapKey(key: DispatchKey): string {
  return JSON.stringify([key.executionId, key.stepId, key.idempotencyKey]);
}

/**
 * An in-process {@link DispatchStore}: the embedded default, for one machine and for tests.
 *
 * @remarks
 * Every operation completes synchronously inside one call, so `create` and each `transition` are
 * atomic by construction. Records are deep-copied on the way in and out, so callers cannot change
 * stored state. Nothing is persisted and nothing is shared between processes, so a crash loses
 * every record: recovery through this store only covers a worker crash inside a live process.
 *
 * `scan` sorts the non-terminal records by `(updatedAtMs, key)` on every call, which is fine for
 * the embedded sizes this store is for.
 */
export class MemoryDispatchStore implements DispatchStore {
  /** Always `memory`. */
  readonly name = 'memory';
  private readonly records = new Map<string, DispatchRecord>();
  /** Terminal records in the order they became terminal, with when: the expiry queue. */
  private readonly finished = new Map<string, number>();
  /** How long a terminal record is kept, ms (`0`: until deleted). */
  readonly retentionMs: number;

  /**
   * @param options.retentionMs - How long a record is kept once terminal (`ACKED`, `FAILED_FINAL`):
   *   the window in which a duplicate is answered from the record. Default 1 hour; `0` keeps
   *   records until deleted. Memory stays bounded by what finishes within one window.
   */
  constructor(options: { retentionMs?: number } = {}) {
    this.retentionMs = options.retentionMs ?? 3_600_000;
  }

  /** Drops terminal records older than the retention window. */
  private expire(nowMs: number): void {
    if (this.retentionMs <= 0) return;
    for (const [k, at] of this.finished) {
      if (at > nowMs - this.retentionMs) break;
      this.finished.delete(k);
      this.records.delete(k);
    }
  }

  /** Nothing to release; kept for the port. */
  async close(): Promise<void> { /* nothing owned */ }

  /** {@inheritDoc DispatchStore.create} */
  async create(input: NewDispatchRecord): Promise<CreateDispatchResult> {
    const record = newRecordFrom(input);
    this.expire(input.nowMs);
    const k = mapKey(record);
    const existing = this.records.get(k);
    if (existing) return { created: false, record: copyRecord(existing) };
    this.records.set(k, record);
    return { created: true, record: copyRecord(record) };
  }

  /** {@inheritDoc DispatchStore.transition} */
  async transition(key: DispatchKey, change: DispatchTransition): Promise<TransitionDispatchResult> {
    const checked = checkTransition(key, change);
    const k = mapKey(key);
    const current = this.records.get(k);
    if (!current || current.state !== checked.from) return { ok: false, current: current && copyRecord(current) };
    const next = applyTransition(current, checked);
    this.records.set(k, next);
    this.finished.delete(k);
    if (isTerminalState(next.state)) this.finished.set(k, checked.nowMs);
    return { ok: true, record: copyRecord(next) };
  }

  /** {@inheritDoc DispatchStore.get} */
  async get(key: DispatchKey): Promise<DispatchRecord | undefined> {
    checkDispatchKey(key);
    const r = this.records.get(mapKey(key));
    return r && copyRecord(r);
  }

  /** {@inheritDoc DispatchStore.scan} */
  async scan(request?: DispatchScanRequest): Promise<DispatchScanPage> {
    const req = checkScanRequest(request);
    const after = req.cursor === undefined ? undefined : decodeScanCursor(req.cursor);
    const open: { score: number; member: string; record: DispatchRecord }[] = [];
    for (const [member, record] of this.records) {
      if (isTerminalState(record.state) || !req.states.has(record.state) || record.updatedAtMs >= req.olderThanMs) continue;
      const score = record.updatedAtMs;
      if (after && (score < after.score || (score === after.score && member <= after.member))) continue;
      open.push({ score, member, record });
    }
    open.sort((a, b) => a.score - b.score || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
    const page = open.slice(0, req.limit);
    const last = page[page.length - 1];
    return {
      records: page.map((e) => copyRecord(e.record)),
      ...(open.length > req.limit && last ? { cursor: encodeScanCursor(last.score, last.member) } : {}),
    };
  }

  /** {@inheritDoc DispatchStore.delete} */
  async delete(key: DispatchKey): Promise<boolean> {
    checkDispatchKey(key);
    this.finished.delete(mapKey(key));
    return this.records.delete(mapKey(key));
  }
}
