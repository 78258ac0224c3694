/**
 * Weft with its built-in plugins: the entry point most applications import.
 *
 * @example
 * ```ts
 * import { Weft, redisPlugin } from 'weft/plugins';
 * const embedded = await Weft.create();                                   // everything in memory
 * const distributed = await Weft.create({ plugins: [redisPlugin({ url: process.env.REDIS_URL })] });
 * ```
 */
import { Weft as CoreWeft, WeftOptions } from '../core/runtime/weft';
import { defaultCatalog } from './catalog';

export { memoryPlugin, MemorySchemaStore, MemoryTransport } from './memory';
export { redisPlugin, RedisSchemaStore, RedisStreamsTransport } from './redis';
export { defaultCatalog } from './catalog';

/**
 * `Weft.create` with the built-in plugin catalog: with no `plugins`, the transport is chosen by
 * `WEFT_TRANSPORT` (`memory` | `redis`) or `REDIS_URL`, and is memory when neither is set.
 */
export const Weft = {
  create(options: WeftOptions = {}): Promise<CoreWeft> {
    return CoreWeft.create({ catalog: defaultCatalog(), ...options });
  },
};
