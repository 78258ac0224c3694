/**
 * How the sample connects: the one place that picks plugins from the environment. Used by the
 * main program and by every worker process, so that they agree.
 *
 * - nothing set (or `WEFT_TRANSPORT=memory`): embedded, the memory plugins, one process;
 * - `REDIS_URL` set (or `WEFT_TRANSPORT=redis`): Redis, under the key prefix `WEFT_PREFIX`
 *   (default `weft`).
 */
import { pluginsFromEnv, transportNameFromEnv, type EnvLike, type PluginInput } from '../core/app';
import { defaultCatalog, memoryPlugin, redisPlugin } from '../plugins';
import { DEFAULT_REDIS_URL } from '../plugins/redis';
import { sampleServicesPlugin } from './services';

/**
 * Retention of the sample's queue streams on Redis: every `XADD` carries `MAXLEN ~` this, so a
 * stream keeps about its newest 10,000 entries, a rolling audit window of what went through.
 */
export const SAMPLE_STREAM_MAXLEN = 10_000;

/** The sample's connection, as chosen by the environment. */
export type SampleConnection =
  | { readonly mode: 'embedded'; readonly plugins: readonly PluginInput[] }
  | { readonly mode: 'redis'; readonly plugins: readonly PluginInput[]; readonly url: string; readonly prefix: string }
  | { readonly mode: 'other'; readonly plugins: readonly PluginInput[]; readonly transport: string };

/** Picks the plugins (plus the sample's services plugin) from `env`. */
export function sampleConnection(env: EnvLike = process.env): SampleConnection {
  const catalog = defaultCatalog();
  const { name } = transportNameFromEnv(env, catalog);
  if (name === 'memory') return { mode: 'embedded', plugins: [memoryPlugin(), sampleServicesPlugin()] };
  if (name === 'redis') {
    const url = env.REDIS_URL || DEFAULT_REDIS_URL;
    const prefix = env.WEFT_PREFIX || 'weft';
    return {
      mode: 'redis', url, prefix,
      plugins: [redisPlugin({ url, prefix, transport: { maxLen: SAMPLE_STREAM_MAXLEN } }), sampleServicesPlugin()],
    };
  }
  return { mode: 'other', transport: name, plugins: [...pluginsFromEnv(env, catalog), sampleServicesPlugin()] };
}

/** The log level of the sample's apps: `WEFT_LOG_LEVEL`, else `warn` (the console shows the pipeline). */
export function sampleLogLevel(env: EnvLike = process.env): string {
  return env.WEFT_LOG_LEVEL || 'warn';
}
