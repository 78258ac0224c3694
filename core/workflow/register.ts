import { checkReadable } from '../schema/compat';
import type { FieldModel } from '../schema/model';
import type { Schema } from '../schema/schema';
import type { AnyFlow, FlowStage } from './definition';
import { FlowError, FlowErrorCode } from './errors';

/** The message-typed repeated field of `schema` whose JS property is `property`, or a coded error. */
export function listField(schema: Schema, property: string, what: string): FieldModel & { element: { kind: 'message' } } {
  const f = schema.model.fields.find((x) => x.property === property);
  if (!f) {
    throw new FlowError(FlowErrorCode.FLOW_INVALID,
      `${what}: ${schema.fullName} has no field '${property}' (fields: ${schema.model.fields.map((x) => x.property).join(', ') || 'none'})`);
  }
  if (!f.repeated || f.map || f.element.kind !== 'message') {
    throw new FlowError(FlowErrorCode.FLOW_INVALID,
      `${what}: field '${property}' of ${schema.fullName} must be a repeated message field (a list of @Output class instances)`);
  }
  return f as FieldModel & { element: { kind: 'message' } };
}

/**
 * Checks every edge of a flow with the schema compatibility checker: the reader is the next step's
 * input (or, for a fan-in, the element message of its `into` field), the writer is the previous
 * step's output (or, for a fan-out, the element message of its `over` field).
 *
 * @throws FlowError `WEFT_FLOW_EDGE_INCOMPATIBLE` naming the step and the field when an edge cannot be
 *   read; `WEFT_FLOW_INVALID` for a flow without steps, or an `over`/`into` that is not a list of messages.
 */
export function checkFlowEdges(f: AnyFlow): void {
  const stages = f.stages;
  if (stages.length === 0) throw new FlowError(FlowErrorCode.FLOW_INVALID, `flow ${f.name} has no steps`);
  if (stages[stages.length - 1]!.kind === 'forEach') {
    throw new FlowError(FlowErrorCode.FLOW_INVALID, `flow ${f.name} ends in a fan-out: gather the children with .collect(Task, { into })`);
  }
  for (let i = 1; i < stages.length; i++) {
    const prev = stages[i - 1]!;
    const cur = stages[i]!;
    const out = prev.def.output;
    const input = cur.def.input;
    let writer = { bytes: out.bytes, message: out.fullName };
    let reader = { bytes: input.bytes, message: input.fullName };
    let edge = `step '${cur.name}' (${input.fullName}) reads the output of step '${prev.name}' (${out.fullName})`;
    if (cur.kind === 'forEach') {
      const field = listField(out, cur.over!, `forEach step '${cur.name}' of flow ${f.name}`);
      writer = { bytes: out.bytes, message: field.element.message.fullName };
      edge = `step '${cur.name}' (${input.fullName}) reads each element of field '${cur.over}' of step '${prev.name}' (${writer.message})`;
    } else if (cur.kind === 'collect') {
      const field = listField(input, cur.into!, `collect step '${cur.name}' of flow ${f.name}`);
      reader = { bytes: input.bytes, message: field.element.message.fullName };
      edge = `field '${cur.into}' of step '${cur.name}' (${reader.message}) collects the outputs of step '${prev.name}' (${out.fullName})`;
    }
    const issues = checkReadable(writer, reader, `what step '${prev.name}' writes`);
    if (issues.length > 0) {
      throw new FlowError(FlowErrorCode.EDGE_INCOMPATIBLE,
        `flow ${f.name}: ${edge}, but they are not compatible: ` +
        issues.map((x) => `field ${x.field} of ${x.message} [${x.rule}]: ${x.detail}`).join('; ') +
        '. Make the field numbers and types of the two classes agree (see docs/compatibility.md).');
    }
  }
}

/** A stable description of a flow's shape, to tell a re-registration from a conflicting one. */
export function flowSignature(f: AnyFlow): string {
  return f.stages.map((s: FlowStage) => [s.kind, s.name, s.def.ref, s.def.input.id, s.def.output.id, s.over ?? '', s.into ?? '', s.continueOnError].join('|')).join('\n');
}

/** The flows an app knows, by name; every orchestrator and starter of a flow registers it. */
export class FlowRegistry {
  private readonly flows = new Map<string, { flow: AnyFlow; signature: string }>();

  /**
   * Checks `flow` (see {@link checkFlowEdges}) and adds it. Registering the same flow again is a
   * no-op.
   * @throws FlowError `WEFT_FLOW_CONFLICT` when another flow with the same name but other steps is registered.
   */
  register(flow: AnyFlow): void {
    const signature = flowSignature(flow);
    const found = this.flows.get(flow.name);
    if (found) {
      if (found.signature === signature) return;
      throw new FlowError(FlowErrorCode.CONFLICT,
        `a different flow named ${flow.name} is registered already; flow names are stable identities: give the new flow its own name`);
    }
    checkFlowEdges(flow);
    this.flows.set(flow.name, { flow, signature });
  }

  /** The registered flow with this name. */
  get(name: string): AnyFlow | undefined {
    return this.flows.get(name)?.flow;
  }
}
