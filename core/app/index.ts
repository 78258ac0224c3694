/**
 * The app layer: the Plugin contract, DI tokens, the bootstrap that wires one Weft app, and
 * configuration by name.
 *
 * @example
 * ```ts
 * import 'reflect-metadata';
 * import { inject } from 'tsyringe';
 * import { bootstrap, pluginsFromEnv, LOGGER } from 'weft/core/app';
 * import { defaultCatalog } from 'weft/plugins/catalog';
 *
 * const app = await bootstrap({ plugins: pluginsFromEnv(process.env, defaultCatalog()) });
 * class Report { constructor(@inject(LOGGER) private log: Logger) {} }
 * app.resolveTask(Report);
 * await app.close();
 * ```
 *
 * @packageDocumentation
 */
export {
  TRANSPORT, SCHEMA_STORE, DISPATCH_STORE, DISPATCH_LEDGER, RESULT_STORE, TASK_RESOLVERS, LOGGER, WEFT_CONFIG, TASK_CONTEXT,
  PORTS, PORT_NAMES, RUNTIME_PORTS, isPortName,
} from './tokens';
export { EVENT_LOG } from './tokens';
export type { PortName, PortSpec } from './tokens';
export { PLUGIN_API_VERSION } from './plugin';
export type {
  Plugin, PluginContext, PluginRegisterContext, PluginDependency, PluginFactory, PluginInput,
} from './plugin';
export type { WeftConfig, EnvLike } from './config';
export { bootstrap, WeftApp, resolveClass } from './bootstrap';
export type { BootstrapOptions, Constructor } from './bootstrap';
export { validatePlugins } from './validate';
export type { ValidateOptions, ValidatedPlugins } from './validate';
export { pluginsFromEnv, pluginsFromConfig, transportNameFromEnv, DEFAULT_TRANSPORT } from './catalog';
export type { PluginCatalog, CatalogEntry, CatalogConfig, PluginSelection } from './catalog';
export { satisfies, parseVersion, isValidRange } from './version';
export {
  AppErrorCode, PluginInvalidError, PluginDuplicateError, PortMissingError, PortConflictError,
  PluginRegistrationError, PluginDependencyMissingError, PluginDependencyCycleError, PluginVersionMismatchError,
  PluginInitError, PluginCloseError, PluginUnknownError, ConfigInvalidError, AppClosedError, TaskResolveError,
} from './errors';
export type { AppErrorCodeValue } from './errors';
