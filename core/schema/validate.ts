import { getMetadataStorage, validateSync, ValidationError as CvError } from 'class-validator';
import type { Ctor } from '../../decorators/types';
import type { Violation } from '../errors';
import { collectTypes, ElementModel, MessageModel } from './model';

/** Walks a value graph and runs class-validator on every instance whose class has constraints. */
export type GraphValidator = (value: unknown) => Violation[];

function ownConstraints(ctor: Ctor | undefined): boolean {
  if (!ctor) return false;
  return getMetadataStorage().getTargetValidationMetadatas(ctor as unknown as Function, '', false, false).length > 0;
}

function flatten(errors: CvError[], prefix: string, out: Violation[]): void {
  for (const e of errors) {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    for (const [constraint, message] of Object.entries(e.constraints ?? {})) out.push({ path, constraint, message });
    if (e.children?.length) flatten(e.children, path, out);
  }
}

/**
 * Builds a validator for a root message, or returns `undefined` when nothing in its graph has a
 * class-validator constraint (the common case, which then costs nothing on the hot path).
 *
 * @remarks
 * Nested messages are walked by Weft itself, so `@ValidateNested` is not needed. Every violation
 * in the graph is collected with its full path (`items[2].sku`, `byWarehouse[eu][0].qty`).
 */
export function buildGraphValidator(root: MessageModel, maxDepth: number): GraphValidator | undefined {
  const { messages } = collectTypes(root);
  const own = new Map(messages.map((m) => [m, ownConstraints(m.ctor)]));
  // A message "needs a walk" when it, or anything it reaches, has constraints. Fixed point over the graph.
  const needs = new Map(messages.map((m) => [m, own.get(m)!]));
  const children = (m: MessageModel): MessageModel[] =>
    m.fields.flatMap((f) => [f.element, ...(f.map?.listWrapper ? [] : [])]).flatMap((e: ElementModel) =>
      e.kind === 'message' ? [e.message] : []);
  for (let changed = true; changed;) {
    changed = false;
    for (const m of messages) {
      if (!needs.get(m) && children(m).some((c) => needs.get(c))) {
        needs.set(m, true);
        changed = true;
      }
    }
  }
  if (!needs.get(root)) return undefined;

  const walk = (value: unknown, m: MessageModel, path: string, out: Violation[], depth: number): void => {
    if (value === null || typeof value !== 'object' || depth > maxDepth) return;
    if (own.get(m) && m.ctor) {
      const target = value instanceof m.ctor ? value : Object.assign(Object.create(m.ctor.prototype) as object, value);
      flatten(validateSync(target, { forbidUnknownValues: false }), path, out);
    }
    for (const f of m.fields) {
      const e = f.map?.listWrapper ? f.map.listWrapper.fields[0].element : f.element;
      if (e.kind !== 'message' || !needs.get(e.message)) continue;
      const v = (value as Record<string, unknown>)[f.property];
      if (v == null) continue;
      const at = (suffix: string): string => `${path ? path + '.' : ''}${f.property}${suffix}`;
      const visitList = (list: unknown, prefix: string): void => {
        if (Array.isArray(list)) list.forEach((item, i) => walk(item, e.message, `${prefix}[${i}]`, out, depth + 1));
      };
      if (f.map) {
        const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
        for (const [k, item] of entries) {
          if (f.map.listWrapper) visitList(item, at(`[${String(k)}]`));
          else walk(item, e.message, at(`[${String(k)}]`), out, depth + 1);
        }
      } else if (f.repeated) visitList(v, at(''));
      else walk(v, e.message, at(''), out, depth + 1);
    }
  };
  return (value) => {
    const out: Violation[] = [];
    walk(value, root, '', out, 0);
    return out;
  };
}
