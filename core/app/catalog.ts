import type { EnvLike } from './config';
import { PluginInvalidError, PluginUnknownError } from './errors';
import type { Plugin } from './plugin';

/** What a catalog entry receives. */
export interface CatalogConfig {
  /** The environment the selection was read from (for `REDIS_URL`, `WEFT_PREFIX`, ...). */
  readonly env: EnvLike;
  /** Options from a configuration file (e.g. `{ url, prefix }`); empty when selected by env. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * Builds the plugin(s) for one catalog name. Returning several plugins lets one name stand for a
 * coherent set (e.g. `redis` = transport + stores).
 */
export type CatalogEntry = (config: CatalogConfig) => Plugin | readonly Plugin[];

/**
 * Plugins by name, for configuration by name (env vars, config files). Composition roots fill it
 * (`plugins/catalog.ts` has `defaultCatalog()` with `memory` and `redis`); core never knows
 * concrete plugins.
 *
 * @example
 * ```ts
 * const catalog: PluginCatalog = {
 *   ...defaultCatalog(),
 *   nats: ({ env, options }) => natsPlugin({ url: String(options.url ?? env.NATS_URL) }),
 * };
 * ```
 */
export type PluginCatalog = Readonly<Record<string, CatalogEntry>>;

/** The name used when nothing is configured. */
export const DEFAULT_TRANSPORT = 'memory';

/** A name-based selection, as a configuration file would hold it. */
export interface PluginSelection {
  /** Catalog name of the transport plugin set. Default {@link DEFAULT_TRANSPORT}. */
  readonly transport?: string;
  /** Options handed to the catalog entry (`url`, `prefix`, ...). */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Handed to the entry as `env`. Default `process.env`. */
  readonly env?: EnvLike;
}

/**
 * Builds plugins from a name-based selection and a catalog.
 *
 * @throws {@link PluginUnknownError} (`WEFT_PLUGIN_UNKNOWN`) when the name is not in the catalog;
 * the message lists the known names.
 *
 * @example
 * ```ts
 * const plugins = pluginsFromConfig({ transport: 'redis', options: { url: 'redis://cache:6379' } }, defaultCatalog());
 * const app = await bootstrap({ plugins });
 * ```
 */
export function pluginsFromConfig(selection: PluginSelection, catalog: PluginCatalog, source = 'the configuration'): Plugin[] {
  const name = (selection.transport ?? DEFAULT_TRANSPORT).trim().toLowerCase() || DEFAULT_TRANSPORT;
  const entry = Object.prototype.hasOwnProperty.call(catalog, name) ? catalog[name] : undefined;
  if (typeof entry !== 'function') throw new PluginUnknownError(name, Object.keys(catalog).sort(), source);
  const made = entry({ env: selection.env ?? process.env, options: selection.options ?? {} });
  const list: readonly unknown[] = Array.isArray(made) ? made : [made];
  return list.map((p) => {
    if (p === null || typeof p !== 'object') throw new PluginInvalidError(`catalog entry "${name}"`, 'it returned something other than a plugin object');
    return p as Plugin;
  });
}

/**
 * Chooses plugins by environment variables:
 * - `WEFT_TRANSPORT` names a catalog entry (`memory`, `redis`, ...);
 * - when it is unset and `REDIS_URL` is set, and the catalog has `redis`, `redis` is chosen;
 * - with neither, {@link DEFAULT_TRANSPORT} (`memory`): everything runs embedded.
 *
 * The entry reads its connection details from `env` itself (`REDIS_URL`, ...).
 *
 * @remarks
 * `REDIS_URL` alone switches to Redis, so that a worker can be attached with nothing but the URL.
 * Set `WEFT_TRANSPORT=memory` to stay embedded in an environment where `REDIS_URL` is set for
 * other reasons (such as a test runner).
 *
 * @throws {@link PluginUnknownError} (`WEFT_PLUGIN_UNKNOWN`) for an unknown `WEFT_TRANSPORT`.
 *
 * @example
 * ```ts
 * // WEFT_TRANSPORT=redis REDIS_URL=redis://10.0.0.5:6379 node worker.js
 * const app = await bootstrap({ plugins: pluginsFromEnv(process.env, defaultCatalog()) });
 * ```
 */
export function pluginsFromEnv(env: EnvLike, catalog: PluginCatalog): Plugin[] {
  const { name, source } = transportNameFromEnv(env, catalog);
  return pluginsFromConfig({ transport: name, env }, catalog, source);
}

/**
 * The catalog name {@link pluginsFromEnv} picks, and what decided it (for logs and errors).
 *
 * @example
 * ```ts
 * transportNameFromEnv({ REDIS_URL: 'redis://x' }, defaultCatalog()); // { name: 'redis', source: 'REDIS_URL' }
 * ```
 */
export function transportNameFromEnv(env: EnvLike, catalog: PluginCatalog): { name: string; source: string } {
  const explicit = env.WEFT_TRANSPORT?.trim().toLowerCase();
  if (explicit) return { name: explicit, source: 'WEFT_TRANSPORT' };
  if (env.REDIS_URL && Object.prototype.hasOwnProperty.call(catalog, 'redis')) return { name: 'redis', source: 'REDIS_URL' };
  return { name: DEFAULT_TRANSPORT, source: 'the default (no WEFT_TRANSPORT, no REDIS_URL)' };
}
