import type { CatalogConfig, PluginCatalog } from '../core/app/catalog';
import { memoryPlugin } from './memory/plugin';
import { redisPlugin } from './redis/plugin';

/**
 * The built-in plugins by name, for configuration by name (`WEFT_TRANSPORT`, config files):
 * - `memory`: {@link memoryPlugin}, the embedded default;
 * - `redis`: {@link redisPlugin}, with `url` from the options or `REDIS_URL`, and `prefix` from
 *   the options or `WEFT_PREFIX`.
 *
 * @remarks
 * A composition helper at the plugin level: it is the one module under `plugins/` that knows
 * several plugins, and core never imports it. Composition roots (the sample app, the CLI, your
 * bootstrap file) pass it to `pluginsFromEnv` or `bootstrap({ catalog })`, and may extend it.
 *
 * @example
 * ```ts
 * // nothing set -> memory; REDIS_URL=redis://... (or WEFT_TRANSPORT=redis) -> redis
 * const app = await bootstrap({ plugins: pluginsFromEnv(process.env, defaultCatalog()) });
 *
 * const catalog = { ...defaultCatalog(), nats: ({ env }) => natsPlugin({ url: env.NATS_URL }) };
 * ```
 */
export function defaultCatalog(): PluginCatalog {
  return {
    memory: () => memoryPlugin(),
    redis: ({ env, options }: CatalogConfig) => redisPlugin({
      url: optionalString(options.url) ?? env.REDIS_URL ?? undefined,
      prefix: optionalString(options.prefix) ?? (env.WEFT_PREFIX || undefined),
    }),
  };
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
