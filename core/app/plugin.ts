import type { DependencyContainer } from 'tsyringe';
import type { Logger } from 'pino';
import type { WeftConfig } from './config';
import type { PortName } from './tokens';

/**
 * The plugin API version this core implements. A plugin that sets {@link Plugin.apiVersion} to
 * another number is refused with `WEFT_PLUGIN_VERSION_MISMATCH`.
 */
export const PLUGIN_API_VERSION = 1;

/** What {@link Plugin.register} receives besides the container. */
export interface PluginRegisterContext {
  /** The app's frozen configuration (also registered under `WEFT_CONFIG`). */
  readonly config: Readonly<WeftConfig>;
}

/** What {@link Plugin.init} and {@link Plugin.close} receive. */
export interface PluginContext extends PluginRegisterContext {
  /**
   * The app's child container: the same one `register()` filled. Resolve your own registrations
   * from it (`ctx.container.resolve(TRANSPORT)`), so that one plugin object can serve several apps.
   */
  readonly container: DependencyContainer;
  /** The app's logger, bound to `plugin: <name>`. */
  readonly logger: Logger;
}

/**
 * A dependency on another plugin by name, optionally with a version range that its
 * {@link Plugin.version} must satisfy (`1.2.3`, `^1.2.0`, `~1.2.0`, `1.x`, `>=1.2.0 <2`, `a || b`).
 */
export interface PluginDependency {
  readonly name: string;
  readonly version?: string;
}

/**
 * A Weft plugin: fills one or more ports (`Transport`, `SchemaStore`, ...) of an app by registering
 * implementations into the app's tsyringe child container, under the symbol tokens of
 * `core/app/tokens.ts`.
 *
 * @remarks
 * How the bootstrap uses a plugin, in order:
 * 1. **Validation, before anything is registered or connected.** Names are unique; each
 *    single-provider port has exactly one provider; each runtime port (`transport`,
 *    `schemaStore`) and each port in a plugin's {@link Plugin.requires} is provided; every
 *    {@link Plugin.dependsOn} is present and its version matches. Each failure is a coded error.
 * 2. **Ordering.** Plugins are sorted so that a plugin comes after those it depends on and after
 *    the providers of the ports it requires. Otherwise the order given is kept.
 * 3. **`register(container, ctx)`**, in that order, synchronously. Register instances or
 *    factories only: do not connect or start anything here. The bootstrap then checks that every
 *    port in `provides` was registered, and that no undeclared port was.
 * 4. **`init(ctx)`**, in that order, awaited one after the other. Connect, load scripts, start
 *    what you own, and call `init()` of the port objects you registered. If one `init()` throws,
 *    the plugins already initialised are closed in reverse order and the app does not start.
 * 5. **`close(ctx)`**, when the app closes, in reverse order. Close what you created, including
 *    the port objects you registered. Never close a resource the user handed you (an ioredis
 *    client passed in options): whoever creates a connection closes it.
 *
 * State: keep per-app state in the container (resolve your registrations in `init`/`close`) or in
 * a `WeakMap` keyed by `ctx.container`, not in fields of the plugin object, so that one plugin
 * object can be passed to several apps. Factories such as `memoryPlugin()` return a new object per
 * call anyway.
 *
 * What the contract does not cover:
 * - hot reload: the set of plugins is fixed for the life of the app;
 * - health checks and reconnection: each plugin handles its own connection's failures;
 * - ordering of `close()` with respect to in-flight work: the runtime stops workers and clients
 *   before it closes the app;
 * - the behaviour of the ports themselves: that is what the `core/testing` conformance suites
 *   check;
 * - sandboxing: a plugin runs with the app's full privileges.
 *
 * @example
 * ```ts
 * import { TRANSPORT, type Plugin } from 'weft/core/app';
 *
 * export function myTransportPlugin(options: { url: string }): Plugin {
 *   return {
 *     name: 'my-transport',
 *     version: '1.0.0',
 *     provides: ['transport'],
 *     register(container) {
 *       container.registerInstance(TRANSPORT, new MyTransport(options.url));
 *     },
 *     async init({ container }) {
 *       await container.resolve<MyTransport>(TRANSPORT).init();
 *     },
 *     async close({ container }) {
 *       await container.resolve<MyTransport>(TRANSPORT).close();
 *     },
 *   };
 * }
 * ```
 */
export interface Plugin {
  /** Unique within an app, e.g. `memory`, `redis`. Used in errors, logs and {@link dependsOn}. */
  readonly name: string;
  /** The plugin's own version (semver), checked against other plugins' `dependsOn` ranges. */
  readonly version?: string;
  /** The plugin API version it was written for; default {@link PLUGIN_API_VERSION}. */
  readonly apiVersion?: number;
  /** The ports this plugin fills. Empty for plugins that only register user services. */
  readonly provides: readonly PortName[];
  /** Ports that other plugins must fill for this one to work (e.g. a result store needing `transport`). */
  readonly requires?: readonly PortName[];
  /** Plugins (by name, optionally with a version range) that must be present and initialised first. */
  readonly dependsOn?: readonly (string | PluginDependency)[];
  /**
   * Registers this plugin's implementations into the app's child container, under the tokens of
   * the ports in {@link provides}. Synchronous; no I/O.
   */
  register(container: DependencyContainer, ctx: PluginRegisterContext): void;
  /** Connects and starts what the plugin owns. Called once, in dependency order. */
  init?(ctx: PluginContext): Promise<void>;
  /** Releases what the plugin created. Called once, in reverse dependency order. */
  close?(ctx: PluginContext): Promise<void>;
}

/**
 * Builds a plugin from the app's configuration. A plugin may be passed to the bootstrap as an
 * object or as such a factory (called once per app).
 *
 * @example
 * ```ts
 * const plugins: PluginInput[] = [memoryPlugin(), (config) => auditPlugin({ app: config.name })];
 * ```
 */
export type PluginFactory = (config: Readonly<WeftConfig>) => Plugin;

/** A plugin as the bootstrap accepts it: the object itself, or a {@link PluginFactory}. */
export type PluginInput = Plugin | PluginFactory;
