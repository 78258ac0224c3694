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

/** True when the `reflect-metadata` polyfill (or an equivalent) is loaded. */
export function hasReflectMetadata(): boolean {
  return typeof (Reflect as unknown as { getMetadata?: unknown }).getMetadata === 'function';
}
