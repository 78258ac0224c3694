import type { ScalarType } from '../../decorators/types';
import { CompatibilityIssue, SchemaCorruptError, SchemaInvalidError } from '../errors';
import { CompatEnum, CompatField, CompatMessage, CompatSchema, CompatType, parseCompatSchema } from './compat-descriptor';

/**
 * Confluent Schema Registry compatibility modes, judged on protobuf wire compatibility.
 *
 * - `BACKWARD` (the default): a reader using the new schema can read data written with the latest
 *   registered version.
 * - `FORWARD`: a reader using the latest registered version can read data written with the new schema.
 * - `FULL`: both.
 * - `*_TRANSITIVE`: the same, against every registered version instead of only the latest.
 * - `NONE`: nothing is checked.
 *
 * See docs/compatibility.md for every rule.
 */
export type CompatibilityMode =
  | 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE' | 'NONE';

/** One registered version of a subject. */
export interface SubjectVersion {
  /** The version number (1, 2, 3 ... in registration order). */
  readonly version: number;
  /** The schema id of `bytes`. */
  readonly id: string;
  /** The serialized `FileDescriptorProto` registered as this version. */
  readonly bytes: Uint8Array;
}

/** Every mode, for validating configuration. */
export const COMPATIBILITY_MODES: readonly CompatibilityMode[] = [
  'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE',
];

/** True when `x` names a {@link CompatibilityMode}. */
export function isCompatibilityMode(x: unknown): x is CompatibilityMode {
  return typeof x === 'string' && (COMPATIBILITY_MODES as readonly string[]).includes(x);
}

/**
 * The stable rule ids a {@link CompatibilityIssue} can carry. docs/compatibility.md explains each.
 */
export const CompatRule = {
  /** The candidate file does not define the subject's root message. */
  ROOT_MESSAGE_MISSING: 'ROOT_MESSAGE_MISSING',
  /** A field kept its number but changed to a type with another wire encoding. */
  FIELD_TYPE_CHANGED: 'FIELD_TYPE_CHANGED',
  /** `bytes` data would be read as `string` (invalid UTF-8 fails to parse in strict runtimes). */
  STRING_BYTES_CHANGED: 'STRING_BYTES_CHANGED',
  /** `bytes` data would be read as an embedded message (arbitrary bytes need not parse). */
  MESSAGE_BYTES_CHANGED: 'MESSAGE_BYTES_CHANGED',
  /** Repeated data would be read by a singular field (packed numbers are unreadable, others lossy). */
  FIELD_LABEL_CHANGED: 'FIELD_LABEL_CHANGED',
  /** A map's key type changed to another wire encoding. */
  MAP_KEY_CHANGED: 'MAP_KEY_CHANGED',
  /** A map's value type changed to an incompatible type. */
  MAP_VALUE_CHANGED: 'MAP_VALUE_CHANGED',
  /** A value the reader's enum lacks would be written: an enum value was added (FORWARD side). */
  ENUM_VALUE_ADDED: 'ENUM_VALUE_ADDED',
  /** A value the reader's enum lacks would be written: an enum value was removed (BACKWARD side). */
  ENUM_VALUE_REMOVED: 'ENUM_VALUE_REMOVED',
  /** An enum value name now has another number (for example, reordered string-enum members). */
  ENUM_VALUE_RENUMBERED: 'ENUM_VALUE_RENUMBERED',
  /** A field number removed in a later version is used again with an incompatible type. */
  FIELD_NUMBER_REUSED: 'FIELD_NUMBER_REUSED',
} as const;

/** A rule id (see {@link CompatRule}). */
export type CompatRuleId = (typeof CompatRule)[keyof typeof CompatRule];

/** Rules about one field's wire shape; in a transitive check they become FIELD_NUMBER_REUSED when the number was removed in between. */
const REUSABLE_RULES = new Set<string>([
  CompatRule.FIELD_TYPE_CHANGED, CompatRule.STRING_BYTES_CHANGED, CompatRule.MESSAGE_BYTES_CHANGED,
  CompatRule.FIELD_LABEL_CHANGED, CompatRule.MAP_KEY_CHANGED, CompatRule.MAP_VALUE_CHANGED,
]);

/**
 * Checks a candidate schema (serialized FileDescriptorProto whose root message is `subject`)
 * against a subject's history (ascending versions), under `mode`. Returns every issue; empty = compatible.
 *
 * @remarks
 * Messages are compared from the root `subject` down through every message reachable from it,
 * matching fields by number (names never reach the wire; renames are not reported). Which side
 * is the reader depends on the mode: BACKWARD reads old data with the candidate, FORWARD reads
 * candidate data with an old version, FULL does both. Non-transitive modes compare with the
 * latest version only; transitive modes with every version, and then report a number that was
 * removed and later reused with an incompatible type as `FIELD_NUMBER_REUSED`.
 *
 * @param subject - The root message's full name, e.g. `shop.Order`.
 * @param candidate - The new schema's bytes.
 * @param history - The registered versions, in any order (they are sorted by `version`).
 * @param mode - The subject's compatibility mode.
 * @returns The issues, ordered by version compared against; an empty array means compatible.
 * @throws SchemaInvalidError when the candidate bytes are not a parseable Weft schema.
 * @throws SchemaCorruptError when a stored version does not parse or does not define `subject`.
 *
 * @example
 * ```ts
 * const issues = checkCompatibility('shop.Order', schemaOf(Order).bytes, history, 'BACKWARD');
 * if (issues.length > 0) throw new SchemaIncompatibleError('shop.Order', 'BACKWARD', issues);
 * ```
 */
export function checkCompatibility(
  subject: string, candidate: Uint8Array, history: readonly SubjectVersion[], mode: CompatibilityMode,
): CompatibilityIssue[] {
  if (!isCompatibilityMode(mode)) {
    throw new SchemaInvalidError(`unknown compatibility mode ${JSON.stringify(mode)}; use one of ${COMPATIBILITY_MODES.join(', ')}.`);
  }
  if (mode === 'NONE' || history.length === 0) return [];
  const cand = parseCompatSchema(candidate);
  const candRoot = cand.messages.get(subject);
  if (!candRoot) {
    return [{
      message: subject, field: '', rule: CompatRule.ROOT_MESSAGE_MISSING,
      detail: `the new schema does not define the message ${subject}, so it cannot be a version of that subject`,
    }];
  }

  const versions = [...history].sort((a, b) => a.version - b.version).map((v) => {
    let schema: CompatSchema;
    try {
      schema = parseCompatSchema(v.bytes);
    } catch (e) {
      throw new SchemaCorruptError(v.id, `version ${v.version} of ${subject} does not parse: ${(e as Error).message}`, { cause: e });
    }
    const root = schema.messages.get(subject);
    if (!root) throw new SchemaCorruptError(v.id, `version ${v.version} of ${subject} does not define the message ${subject}`);
    return { version: v.version, schema, root };
  });

  const transitive = mode.endsWith('_TRANSITIVE');
  const backward = mode.startsWith('BACKWARD') || mode.startsWith('FULL');
  const forward = mode.startsWith('FORWARD') || mode.startsWith('FULL');
  const targets = transitive ? versions : versions.slice(-1);

  const issues: CompatibilityIssue[] = [];
  const seen = new Set<string>();
  for (const target of targets) {
    const raw: RawIssue[] = [];
    // BACKWARD: the candidate reads what the old version wrote. FORWARD: the old version reads the candidate's data.
    if (backward) new DirectionalCheck('reader', target.version, raw).messages(target.root, candRoot);
    if (forward) new DirectionalCheck('writer', target.version, raw).messages(candRoot, target.root);
    const later = versions.filter((v) => v.version > target.version);
    for (const r of raw) {
      const issue = later.length > 0 && REUSABLE_RULES.has(r.rule) ? asReuse(r, later, target.version) : r.issue;
      const key = [issue.againstVersion, issue.message, issue.field, issue.rule, issue.detail].join('\u0000');
      if (seen.has(key)) continue;
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

/**
 * Can a reader of message `reader.message` (in the file `reader.bytes`) read data written as message
 * `writer.message` (in the file `writer.bytes`)? The two messages may have different names: this is
 * the check of one edge of a workflow, where a step reads what another step wrote (a whole output,
 * an element of a repeated field, or a list of outputs). Returns every issue, named on the reader's
 * side; empty means compatible.
 *
 * @param writerLabel - How the writing side is named in the issues' details, e.g. `the output of step 'ingest'`.
 * @throws SchemaInvalidError when either file does not parse or does not define its message.
 *
 * @example
 * ```ts
 * const issues = checkReadable({ bytes: schemaOf(Order).bytes, message: 'shop.Order' },
 *   { bytes: schemaOf(EnrichIn).bytes, message: 'shop.EnrichIn' }, 'the output of step ingest');
 * ```
 */
export function checkReadable(
  writer: { readonly bytes: Uint8Array; readonly message: string },
  reader: { readonly bytes: Uint8Array; readonly message: string },
  writerLabel = 'the writer',
): CompatibilityIssue[] {
  const w = parseCompatSchema(writer.bytes).messages.get(writer.message);
  const r = parseCompatSchema(reader.bytes).messages.get(reader.message);
  if (!w) throw new SchemaInvalidError(`the writer's schema does not define the message ${writer.message}.`);
  if (!r) throw new SchemaInvalidError(`the reader's schema does not define the message ${reader.message}.`);
  const raw: RawIssue[] = [];
  new DirectionalCheck('reader', 0, raw, writerLabel).messages(w, r);
  return raw.map(({ issue }) => {
    const { againstVersion: _ignored, ...rest } = issue;
    return rest;
  });
}

/** An issue plus what the transitive pass needs to recognise a reused number. */
interface RawIssue {
  readonly issue: CompatibilityIssue;
  readonly rule: string;
  /** The candidate-side message full name and the field number, when the issue is about a field. */
  readonly candMessage: string;
  readonly number?: number;
}

/** Rewrites a field issue against an older version as FIELD_NUMBER_REUSED when a later version lacked the number. */
function asReuse(r: RawIssue, later: readonly { version: number; schema: CompatSchema }[], against: number): CompatibilityIssue {
  if (r.number === undefined) return r.issue;
  const gap = later.find((v) => {
    const m = v.schema.messages.get(r.candMessage);
    return m !== undefined && !m.byNumber.has(r.number!);
  });
  if (!gap) return r.issue;
  return {
    ...r.issue,
    rule: CompatRule.FIELD_NUMBER_REUSED,
    detail: `field number ${r.number} was removed in version ${gap.version} and is used again, incompatibly with ` +
      `version ${against}: ${r.issue.detail}. Data written by version ${against} still carries number ${r.number}; ` +
      'give the new field a fresh number',
  };
}

/* ------------------------------------------------------------------------------------------------ */

const VARINT = new Set<ScalarType>(['int32', 'int64', 'uint32', 'uint64', 'bool']);
const WIRE_GROUP: Record<ScalarType, string> = {
  int32: 'varint', int64: 'varint', uint32: 'varint', uint64: 'varint', bool: 'varint',
  sint32: 'zigzag', sint64: 'zigzag',
  fixed32: 'fixed32', sfixed32: 'fixed32',
  fixed64: 'fixed64', sfixed64: 'fixed64',
  float: 'float', double: 'double',
  string: 'string', bytes: 'bytes',
};

/** A problem with one field's type, before it is attached to a message and field. */
interface Finding { readonly rule: string; readonly detail: string }

/**
 * One direction of one comparison: can the reader read what the writer wrote? `candidateIs` says which
 * side is the new schema, so that reports name the new schema's messages and fields and phrase
 * changes as "old → new".
 */
class DirectionalCheck {
  private readonly visited = new Set<string>();

  /** How the other side is named in reports: `version <n>` unless given. */
  private readonly label: string;

  constructor(
    private readonly candidateIs: 'reader' | 'writer',
    private readonly version: number,
    private readonly out: RawIssue[],
    label?: string,
  ) {
    this.label = label ?? `version ${version}`;
  }

  /** Compares two messages field by field (by number), then recurses into message-typed fields. */
  messages(w: CompatMessage, r: CompatMessage): void {
    const key = `${w.fullName}\u0000${r.fullName}`;
    if (this.visited.has(key)) return;
    this.visited.add(key);
    const numbers = [...new Set([...w.byNumber.keys(), ...r.byNumber.keys()])].sort((a, b) => a - b);
    for (const n of numbers) {
      const wf = w.byNumber.get(n);
      const rf = r.byNumber.get(n);
      // Only one side has the number: the reader skips an unknown field, or sees its default. Wire-safe.
      if (!wf || !rf) continue;
      this.field(w, r, wf, rf);
    }
  }

  private field(w: CompatMessage, r: CompatMessage, wf: CompatField, rf: CompatField): void {
    const cand = this.candidateIs === 'reader' ? { m: r, f: rf } : { m: w, f: wf };
    const report = (finding: Finding): void => {
      this.out.push({
        issue: {
          message: cand.m.fullName, field: `${cand.f.name} (${cand.f.number})`, rule: finding.rule,
          detail: finding.detail, againstVersion: this.version,
        },
        rule: finding.rule, candMessage: cand.m.fullName, number: cand.f.number,
      });
    };
    const wEntry = mapEntryOf(wf);
    const rEntry = mapEntryOf(rf);
    if (wEntry && rEntry) {
      this.mapField(wEntry, rEntry).forEach(report);
      return;
    }
    const findings = this.element(wf.type, rf.type);
    findings.forEach(report);
    if (findings.some((f) => REUSABLE_RULES.has(f.rule))) return;
    if (wf.repeated && !rf.repeated) {
      const [oldF, newF] = this.oldNew(wf, rf);
      const numeric = isPackable(wf.type);
      report({
        rule: CompatRule.FIELD_LABEL_CHANGED,
        detail: `field was ${describeField(oldF)} in ${this.label} and is ${describeField(newF)} now: ` +
          `${this.readerLabel()} reads it as a singular field, which ` +
          (numeric
            ? `cannot parse the packed list that ${this.writerLabel()} writes`
            : `keeps only the last element (or merges the messages) of the list that ${this.writerLabel()} writes`),
      });
    }
  }

  /** Both fields are maps: keys must share a wire encoding, values follow the element rules. */
  private mapField(w: CompatMessage, r: CompatMessage): Finding[] {
    const out: Finding[] = [];
    const wk = w.byNumber.get(1);
    const rk = r.byNumber.get(1);
    if (wk && rk && this.element(wk.type, rk.type).length > 0) {
      const [o, n] = this.oldNew(wk, rk);
      out.push({
        rule: CompatRule.MAP_KEY_CHANGED,
        detail: `map key type was ${describeType(o.type)} in ${this.label} and is ${describeType(n.type)} now: ` +
          'the keys have different wire encodings',
      });
    }
    const wv = w.byNumber.get(2);
    const rv = r.byNumber.get(2);
    if (wv && rv) {
      for (const f of this.element(wv.type, rv.type)) {
        if (!REUSABLE_RULES.has(f.rule)) {
          out.push(f);
          continue;
        }
        out.push({ rule: CompatRule.MAP_VALUE_CHANGED, detail: `map value ${f.detail}` });
      }
    }
    return out;
  }

  /** Can a value written as `wt` be read as `rt`? Recurses into message pairs (issues land on their fields). */
  private element(wt: CompatType, rt: CompatType): Finding[] {
    const [ot, nt] = this.candidateIs === 'reader' ? [wt, rt] : [rt, wt];
    const changed = (why: string): Finding[] => [{
      rule: CompatRule.FIELD_TYPE_CHANGED,
      detail: `type was ${describeType(ot)} in ${this.label} and is ${describeType(nt)} now: ${why}`,
    }];
    if (wt.kind === 'group' || rt.kind === 'group') {
      return wt.kind === rt.kind ? [] : changed('groups are only compatible with groups');
    }
    if (wt.kind === 'message' && rt.kind === 'message') {
      this.messages(wt.message, rt.message);
      return [];
    }
    if (wt.kind === 'message' || rt.kind === 'message') {
      const other = wt.kind === 'message' ? rt : wt;
      if (other.kind === 'scalar' && other.scalar === 'bytes') {
        if (rt.kind === 'scalar') return []; // an encoded message is always readable as bytes
        return [{
          rule: CompatRule.MESSAGE_BYTES_CHANGED,
          detail: `type was ${describeType(ot)} in ${this.label} and is ${describeType(nt)} now: ` +
            `${this.readerLabel()} would parse arbitrary bytes from ${this.writerLabel()} as a message, which fails unless ` +
            'they happen to be an encoding of it',
        }];
      }
      return changed('an embedded message and a scalar or enum are different things on the wire');
    }
    if (wt.kind === 'enum' && rt.kind === 'enum') return this.enumValues(wt.enum, rt.enum);
    if (wt.kind === 'enum' || rt.kind === 'enum') {
      const other = (wt.kind === 'enum' ? rt : wt) as { kind: 'scalar'; scalar: ScalarType };
      return VARINT.has(other.scalar) ? [] : changed('an enum is a varint; only int32, int64, uint32, uint64 and bool share its encoding');
    }
    const ws = (wt as { scalar: ScalarType }).scalar;
    const rs = (rt as { scalar: ScalarType }).scalar;
    if (ws === rs || WIRE_GROUP[ws] === WIRE_GROUP[rs]) return [];
    if (ws === 'string' && rs === 'bytes') return [];
    if (ws === 'bytes' && rs === 'string') {
      return [{
        rule: CompatRule.STRING_BYTES_CHANGED,
        detail: `type was ${describeType(ot)} in ${this.label} and is ${describeType(nt)} now: ` +
          `${this.readerLabel()} would read bytes from ${this.writerLabel()} ` +
          'as a string, and proto3 runtimes reject strings that are not valid UTF-8',
      }];
    }
    const [os, ns] = this.oldNew(ws, rs);
    return changed(`${os} and ${ns} have different wire encodings (${WIRE_GROUP[os]} vs ${WIRE_GROUP[ns]})`);
  }

  /** Both sides are enums: every value the writer can send must be known to the reader, by number. */
  private enumValues(we: CompatEnum, re: CompatEnum): Finding[] {
    const out: Finding[] = [];
    const readerNumbers = new Set(re.values.map((v) => v.number));
    for (const v of we.values) {
      if (readerNumbers.has(v.number)) continue;
      out.push(this.candidateIs === 'reader'
        ? {
          rule: CompatRule.ENUM_VALUE_REMOVED,
          detail: `enum ${re.fullName} no longer has ${v.name} = ${v.number}, which ${this.label} can write: ` +
            'the new schema would decode it as a bare number outside its enum',
        }
        : {
          rule: CompatRule.ENUM_VALUE_ADDED,
          detail: `enum ${we.fullName} gained ${v.name} = ${v.number}, which ${this.label} does not know: ` +
            'readers on that version would decode it as a bare number outside their enum',
        });
    }
    const [oe, ne] = this.candidateIs === 'reader' ? [we, re] : [re, we];
    const oldByName = new Map(oe.values.map((v) => [v.name, v.number]));
    for (const v of ne.values) {
      const was = oldByName.get(v.name);
      if (was !== undefined && was !== v.number) {
        out.push({
          rule: CompatRule.ENUM_VALUE_RENUMBERED,
          detail: `enum value ${v.name} was ${was} in ${this.label} and is ${v.number} now: ` +
            'data written with one schema would be read as a different member by the other',
        });
      }
    }
    return out;
  }

  /** [old, new] from a [writer, reader] pair. */
  private oldNew<T>(w: T, r: T): [T, T] {
    return this.candidateIs === 'reader' ? [w, r] : [r, w];
  }

  private readerLabel(): string {
    return this.candidateIs === 'reader' ? 'the new schema' : `a reader on ${this.label}`;
  }

  private writerLabel(): string {
    return this.candidateIs === 'reader' ? this.label : 'the new schema';
  }
}

function mapEntryOf(f: CompatField): CompatMessage | undefined {
  return f.repeated && f.type.kind === 'message' && f.type.message.mapEntry ? f.type.message : undefined;
}

/** Numeric scalars and enums: the types proto3 packs when repeated. */
function isPackable(t: CompatType): boolean {
  return t.kind === 'enum' || (t.kind === 'scalar' && t.scalar !== 'string' && t.scalar !== 'bytes');
}

function describeType(t: CompatType): string {
  switch (t.kind) {
    case 'scalar': return t.scalar;
    case 'enum': return `enum ${t.enum.fullName}`;
    case 'group': return 'group';
    case 'message': {
      const m = t.message;
      if (!m.mapEntry) return `message ${m.fullName}`;
      const k = m.byNumber.get(1);
      const v = m.byNumber.get(2);
      return `map<${k ? describeType(k.type) : '?'}, ${v ? describeType(v.type) : '?'}>`;
    }
  }
}

function describeField(f: CompatField): string {
  return `${f.repeated && !mapEntryOf(f) ? 'repeated ' : ''}${describeType(f.type)}`;
}
