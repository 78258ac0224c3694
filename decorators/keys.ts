/**
 * Every reflect-metadata key Weft reads. No other module spells a key literal.
 */
export const MetadataKeys = {
  /** Emitted by TypeScript under `emitDecoratorMetadata`: a property's declared type. */
  DESIGN_TYPE: 'design:type',
  /** Emitted by TypeScript under `emitDecoratorMetadata`: a method's parameter types. */
  DESIGN_PARAM_TYPES: 'design:paramtypes',
} as const;

/** Reads `design:type` for a property, or `undefined` when reflect-metadata is absent. */
export function readDesignType(prototype: object, property: string): unknown {
  const reflect = Reflect as unknown as { getMetadata?: (k: string, t: object, p: string) => unknown };
  return typeof reflect.getMetadata === 'function'
    ? reflect.getMetadata(MetadataKeys.DESIGN_TYPE, prototype, property)
    : undefined;
}

/**
 * Reads `design:paramtypes` for a method, or `undefined` when reflect-metadata is absent or the
 * compiler emitted nothing (TypeScript emits it only for methods that carry a decorator).
 */
export function readParamTypes(prototype: object, method: string): readonly unknown[] | undefined {
  const reflect = Reflect as unknown as { getMetadata?: (k: string, t: object, p: string) => unknown };
  if (typeof reflect.getMetadata !== 'function') return undefined;
  const types = reflect.getMetadata(MetadataKeys.DESIGN_PARAM_TYPES, prototype, method);
  return Array.isArray(types) ? types : undefined;
}

/** True when the `reflect-metadata` polyfill (or an equivalent) is loaded. */
export function hasReflectMetadata(): boolean {
  return typeof (Reflect as unknown as { getMetadata?: unknown }).getMetadata === 'function';
}
