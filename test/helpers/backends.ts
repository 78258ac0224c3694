/**
 * The two built-in plugin sets an end-to-end suite runs against: memory, and Redis under a key
 * prefix of its own (deleted by `cleanup`). The Redis backend checks the server first, so a missing
 * Redis fails with the one-line message of `connectTestRedis`.
 */
import type { Plugin } from '../../core/app/plugin';
import { memoryPlugin } from '../../plugins/memory';
import { redisPlugin } from '../../plugins/redis';
import { connectTestRedis, deletePrefix, REDIS_URL, uniquePrefix } from './redis';

/** A plugin set to run a suite on. */
export interface Backend {
  readonly name: 'memory' | 'redis';
  /** The plugin for one app; call it once per app (apps of one backend share its Redis prefix). */
  plugin(): Promise<Plugin>;
  /** Deletes what the backend left (the Redis prefix). */
  cleanup(): Promise<void>;
}

/** Memory and Redis backends; `label` names the Redis prefix (`uniquePrefix(label)`). */
export function appBackends(label: string): Backend[] {
  const prefix = uniquePrefix(label);
  return [
    { name: 'memory', plugin: async () => memoryPlugin(), cleanup: async () => undefined },
    {
      name: 'redis',
      plugin: async () => {
        const probe = await connectTestRedis(); // fails with one line when Redis is missing
        probe.disconnect();
        return redisPlugin({ url: REDIS_URL, prefix });
      },
      cleanup: async () => {
        const c = await connectTestRedis();
        await deletePrefix(c, prefix);
        c.disconnect();
      },
    },
  ];
}
