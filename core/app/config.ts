/**
 * The app-level configuration every plugin can read.
 *
 * @packageDocumentation
 */

/** An environment: `process.env`, or a plain object in tests. */
export type EnvLike = Readonly<Record<string, string | undefined>>;

/**
 * Configuration of one Weft app. The bootstrap freezes it and registers it under `WEFT_CONFIG`;
 * plugin factories and `register()`/`init()` receive it.
 *
 * @remarks
 * Connection details belong to the plugins' own options (`redisPlugin({ url })`), not here: this
 * holds what is common to the whole app. `settings` is free-form for user code and plugins that
 * want app-wide values without a token of their own.
 *
 * @example
 * ```ts
 * const app = await bootstrap({
 *   plugins: [memoryPlugin()],
 *   config: { name: 'billing', logLevel: 'debug', settings: { region: 'eu' } },
 * });
 * app.config.settings?.region; // 'eu'
 * ```
 */
export interface WeftConfig {
  /** The app's name, bound to every log line as `name`. Default `weft`. */
  readonly name?: string;
  /**
   * The default logger's level (`fatal`...`trace`, `silent`). Default: `WEFT_LOG_LEVEL`, else
   * `silent` when `NODE_ENV=test`, else `info`. Ignored when a plugin provides the logger.
   */
  readonly logLevel?: string;
  /** Where environment-driven settings are read. Default `process.env`. */
  readonly env?: EnvLike;
  /** Free-form app-wide values. */
  readonly settings?: Readonly<Record<string, unknown>>;
}
