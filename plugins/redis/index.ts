/**
 * The Redis plugin: implementations of core's ports over Redis (ioredis).
 *
 * @packageDocumentation
 */
export { RedisSchemaStore, DEFAULT_PREFIX } from './schema-store';
export type { RedisSchemaStoreOptions, RedisClientLike } from './schema-store';
