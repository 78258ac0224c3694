/**
 * The schema registry and the {@link SchemaStore} port it runs over.
 *
 * @packageDocumentation
 */
export { SchemaRegistry, RegistryConflictError, COMPATIBILITY_MODES } from './schema-registry';
export type {
  SchemaInput, RegisterResult, ResolvedSchema, CompatibilityChecker, SchemaRegistryOptions,
} from './schema-registry';
export type { SchemaStore, StoredVersion, AddVersionResult } from './schema-store';
export { LruCache } from './lru';
