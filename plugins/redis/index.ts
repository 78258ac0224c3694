/**
 * The Redis plugin: implementations of core's ports over Redis (ioredis).
 *
 * @packageDocumentation
 */
export { RedisSchemaStore, DEFAULT_PREFIX } from './schema-store';
export type { RedisSchemaStoreOptions, RedisClientLike } from './schema-store';
export {
  RedisStreamsTransport,
  DEFAULT_MAX_LEN,
  DEFAULT_DEAD_LETTER_MAX_LEN,
  DEAD_LETTER_FIELD_PREFIX,
  DeadLetterField,
} from './streams-transport';
export type { RedisStreamsTransportOptions } from './streams-transport';
export { streamKey, deadLetterKey, keySlot } from './streams-keys';
export { redisPlugin, DEFAULT_REDIS_URL } from './plugin';
export type { RedisPluginOptions } from './plugin';
export { RedisDispatchStore, dispatchRecordKey, dispatchIndexKey, escapeKeyPart } from './dispatch-store';
export type { RedisDispatchStoreOptions } from './dispatch-store';
export { RedisDispatchLedger, delayedKey } from './dispatch-ledger';
export { DEFAULT_DISPATCH_RETENTION_MS } from './dispatch-store';
export { RedisEventLog, eventStreamKey } from './event-log';
export type { RedisEventLogOptions } from './event-log';
