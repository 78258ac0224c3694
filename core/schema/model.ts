import type { Ctor, MapKeyType, ScalarType } from '../../decorators/types';

/**
 * The normalized schema model: what the descriptor builder, the codec compiler and the
 * compatibility checker all work from. It is built either from decorated classes
 * (`build-model.ts`) or from a stored `FileDescriptorProto` (`from-descriptor.ts`).
 */

/** One enum value. */
export interface EnumValueModel {
  /** The `.proto` value name, e.g. `STATUS_SHIPPED`. */
  readonly name: string;
  readonly number: number;
  /** The TS value it maps to (number for numeric enums, string for string enums); `undefined` for the added `_UNSPECIFIED`. */
  readonly jsValue: string | number | undefined;
}

/** An enum type. */
export interface EnumModel {
  readonly kind: 'enum';
  /** Fully-qualified name, e.g. `shop.Status` or `shop.Order.Status`. */
  readonly fullName: string;
  /** Values sorted by number; the first has number 0. */
  readonly values: readonly EnumValueModel[];
  /** True for TS string enums: decoded numbers are mapped back to strings. */
  readonly stringValued: boolean;
}

/** The element type of a field (or of a map value). */
export type ElementModel =
  | { readonly kind: 'scalar'; readonly scalar: ScalarType }
  | { readonly kind: 'enum'; readonly enum: EnumModel }
  | { readonly kind: 'message'; readonly message: MessageModel }
  | { readonly kind: 'timestamp' };

/** A map field's shape. */
export interface MapModel {
  readonly key: MapKeyType;
  readonly value: ElementModel;
  /**
   * When the value is a list, the generated wrapper message that carries it (one field
   * `repeated <T> values = 1`). The codec unwraps it, so users only see `T[]`.
   */
  readonly listWrapper?: MessageModel;
  /** The JS container: a `Map`, or a plain object keyed by the stringified key. */
  readonly container: 'map' | 'record';
}

/** One field. */
export interface FieldModel {
  /** The `.proto` field name (snake_case of the property). */
  readonly name: string;
  /** The JS property. */
  readonly property: string;
  readonly number: number;
  readonly element: ElementModel;
  readonly repeated: boolean;
  /** proto3 `optional`: explicit presence. */
  readonly optional: boolean;
  /** Set for map fields; `element` then describes the map value. */
  readonly map?: MapModel;
}

/** One message. */
export interface MessageModel {
  readonly kind: 'message';
  /** Fully-qualified name, e.g. `shop.Order`. */
  readonly fullName: string;
  /** Fields sorted by number. Filled after construction, so recursive graphs can be built. */
  readonly fields: FieldModel[];
  /** The user's class; decoded values are instances of it. Absent for schemas read from a store. */
  readonly ctor?: Ctor;
  /** True for the generated map-of-lists wrapper. */
  readonly listWrapper?: boolean;
}

/** Splits `a.b.C` into package `a.b` and simple name `C`. */
export function splitFullName(fullName: string): { pkg: string; name: string } {
  const i = fullName.lastIndexOf('.');
  return i < 0 ? { pkg: '', name: fullName } : { pkg: fullName.slice(0, i), name: fullName.slice(i + 1) };
}

/** `placedAt` → `placed_at`; `HTTPCode` → `http_code`. Deterministic; collisions are checked by the builder. */
export function toSnakeCase(property: string): string {
  return property
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

/** `by_warehouse` / `byWarehouse` → `ByWarehouse`. */
export function toPascalCase(s: string): string {
  return s.replace(/(^|_)([a-z0-9])/g, (_m, _u, c: string) => c.toUpperCase()).replace(/^[a-z]/, (c) => c.toUpperCase());
}

/** `ShopStatus` → `SHOP_STATUS`. */
export function toUpperSnake(s: string): string {
  return toSnakeCase(s).toUpperCase();
}

/** Every message and enum reachable from a root, in first-visit order (root first). */
export function collectTypes(root: MessageModel): { messages: MessageModel[]; enums: EnumModel[] } {
  const messages: MessageModel[] = [];
  const enums: EnumModel[] = [];
  const seenM = new Set<MessageModel>();
  const seenE = new Set<EnumModel>();
  const visitElement = (e: ElementModel): void => {
    if (e.kind === 'message') visit(e.message);
    else if (e.kind === 'enum' && !seenE.has(e.enum)) {
      seenE.add(e.enum);
      enums.push(e.enum);
    }
  };
  const visit = (m: MessageModel): void => {
    if (seenM.has(m)) return;
    seenM.add(m);
    messages.push(m);
    for (const f of m.fields) {
      visitElement(f.element);
      if (f.map?.listWrapper) visit(f.map.listWrapper);
    }
  };
  visit(root);
  return { messages, enums };
}
