import type { CompatibilityMode } from '../../core/schema/compat';
import type { AddVersionResult, SchemaStore, StoredVersion } from '../../core/registry';

interface Subject { mode?: CompatibilityMode; versions: StoredVersion[]; byId: Map<string, number> }

/**
 * An in-process {@link SchemaStore}: the embedded default, for one machine and for tests.
 *
 * @remarks
 * Every operation completes synchronously inside one call, so `addVersion` is atomic by
 * construction. Bytes are copied on the way in and out, so callers cannot change stored entries.
 * Nothing is persisted, and nothing is shared between processes.
 */
export class MemorySchemaStore implements SchemaStore {
  /** Always `memory`. */
  readonly name = 'memory';
  private readonly schemas = new Map<string, Uint8Array>();
  private readonly subjects = new Map<string, Subject>();

  /** Nothing to release; kept for the port. */
  async close(): Promise<void> { /* nothing owned */ }

  /** {@inheritDoc SchemaStore.putSchema} */
  async putSchema(id: string, bytes: Uint8Array): Promise<boolean> {
    if (this.schemas.has(id)) return false;
    this.schemas.set(id, Uint8Array.from(bytes));
    return true;
  }

  /** {@inheritDoc SchemaStore.getSchema} */
  async getSchema(id: string): Promise<Uint8Array | undefined> {
    const b = this.schemas.get(id);
    return b && Uint8Array.from(b);
  }

  /** {@inheritDoc SchemaStore.getSchemas} */
  async getSchemas(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return ids.map((id) => {
      const b = this.schemas.get(id);
      return b && Uint8Array.from(b);
    });
  }

  /** {@inheritDoc SchemaStore.listVersions} */
  async listVersions(subject: string): Promise<StoredVersion[]> {
    return [...(this.subjects.get(subject)?.versions ?? [])];
  }

  /** {@inheritDoc SchemaStore.getMode} */
  async getMode(subject: string): Promise<CompatibilityMode | undefined> {
    return this.subjects.get(subject)?.mode;
  }

  /** {@inheritDoc SchemaStore.setMode} */
  async setMode(subject: string, mode: CompatibilityMode): Promise<void> {
    this.subject(subject).mode = mode;
  }

  /** {@inheritDoc SchemaStore.addVersion} */
  async addVersion(subject: string, id: string, expectedLatestVersion: number): Promise<AddVersionResult> {
    const s = this.subject(subject);
    const existing = s.byId.get(id);
    if (existing !== undefined) return { status: 'exists', version: existing };
    const latest = s.versions.length;
    if (latest !== expectedLatestVersion) return { status: 'conflict', latestVersion: latest };
    const version = latest + 1;
    s.versions.push(Object.freeze({ version, id }));
    s.byId.set(id, version);
    return { status: 'added', version };
  }

  /** Removes one raw entry, or overwrites it with other bytes. For fault-injection tests only. */
  tamper(id: string, bytes: Uint8Array | undefined): void {
    if (bytes === undefined) this.schemas.delete(id);
    else this.schemas.set(id, Uint8Array.from(bytes));
  }

  private subject(name: string): Subject {
    let s = this.subjects.get(name);
    if (!s) this.subjects.set(name, (s = { versions: [], byId: new Map() }));
    return s;
  }
}
