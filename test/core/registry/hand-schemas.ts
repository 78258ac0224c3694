import { FIELD_TYPE, LABEL, encodeFileDescriptor, FieldDescriptorShape } from '../../../core/schema/descriptor';
import { schemaIdOf } from '../../../core/schema/schema-id';
import type { SchemaInput } from '../../../core/registry';
import type { SchemaStore } from '../../../core/registry';

/** A field of a hand-built message: name, number, scalar type, repeated or not. */
export interface HandField { name: string; number: number; type: keyof typeof FIELD_TYPE; repeated?: boolean }

/**
 * A schema built by hand (no decorators, so any number of versions of one subject can coexist in
 * a process): one message `fullName` with scalar fields, as a canonical FileDescriptorProto.
 */
export function handSchema(fullName: string, fields: readonly HandField[], fileName?: string): SchemaInput {
  const dot = fullName.lastIndexOf('.');
  const pkg = dot < 0 ? '' : fullName.slice(0, dot);
  const name = fullName.slice(dot + 1);
  const field: FieldDescriptorShape[] = [...fields]
    .sort((a, b) => a.number - b.number)
    .map((f) => ({ name: f.name, number: f.number, label: f.repeated ? LABEL.repeated : LABEL.optional, type: FIELD_TYPE[f.type] }));
  const bytes = encodeFileDescriptor({
    name: fileName ?? `weft/${fullName}.proto`, package: pkg, dependency: [],
    messageType: [{ name, field, nestedType: [], enumType: [], oneofDecl: [] }], enumType: [], syntax: 'proto3',
  });
  return { fullName, id: schemaIdOf(bytes), bytes };
}

/** Wraps a store and counts calls per method, to prove what reaches it. */
export class CountingStore implements SchemaStore {
  readonly calls: Record<string, number> = {};
  readonly name: string;
  /** Runs before each addVersion (to simulate a racing writer). */
  beforeAddVersion?: (subject: string) => Promise<void>;

  constructor(readonly inner: SchemaStore) {
    this.name = `counting(${inner.name})`;
  }

  count(method: string): number {
    return this.calls[method] ?? 0;
  }

  private hit(method: string): void {
    this.calls[method] = this.count(method) + 1;
  }

  async close(): Promise<void> { this.hit('close'); await this.inner.close(); }
  putSchema(id: string, bytes: Uint8Array) { this.hit('putSchema'); return this.inner.putSchema(id, bytes); }
  getSchema(id: string) { this.hit('getSchema'); return this.inner.getSchema(id); }
  getSchemas(ids: readonly string[]) { this.hit('getSchemas'); return this.inner.getSchemas(ids); }
  listVersions(subject: string) { this.hit('listVersions'); return this.inner.listVersions(subject); }
  getMode(subject: string) { this.hit('getMode'); return this.inner.getMode(subject); }
  setMode(subject: string, mode: Parameters<SchemaStore['setMode']>[1]) { this.hit('setMode'); return this.inner.setMode(subject, mode); }
  async addVersion(subject: string, id: string, expected: number) {
    this.hit('addVersion');
    if (this.beforeAddVersion) await this.beforeAddVersion(subject);
    return this.inner.addVersion(subject, id, expected);
  }
}
