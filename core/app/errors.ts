import { WeftError } from '../errors';

/**
 * Every error code the app layer (plugins, bootstrap, catalog, config) raises. Callers branch on
 * these; docs/plugins.md lists what each means and how to fix it.
 *
 * @example
 * ```ts
 * try {
 *   await bootstrap({ plugins });
 * } catch (e) {
 *   if (e instanceof WeftError && e.code === AppErrorCode.PORT_MISSING) console.error(e.message);
 *   else throw e;
 * }
 * ```
 */
export const AppErrorCode = {
  PLUGIN_INVALID: 'WEFT_PLUGIN_INVALID',
  PLUGIN_DUPLICATE: 'WEFT_PLUGIN_DUPLICATE',
  PORT_MISSING: 'WEFT_PORT_MISSING',
  PORT_CONFLICT: 'WEFT_PORT_CONFLICT',
  PORT_NOT_REGISTERED: 'WEFT_PORT_NOT_REGISTERED',
  PORT_UNDECLARED: 'WEFT_PORT_UNDECLARED',
  PLUGIN_DEPENDENCY_MISSING: 'WEFT_PLUGIN_DEPENDENCY_MISSING',
  PLUGIN_DEPENDENCY_CYCLE: 'WEFT_PLUGIN_DEPENDENCY_CYCLE',
  PLUGIN_VERSION_MISMATCH: 'WEFT_PLUGIN_VERSION_MISMATCH',
  PLUGIN_INIT_FAILED: 'WEFT_PLUGIN_INIT_FAILED',
  PLUGIN_CLOSE_FAILED: 'WEFT_PLUGIN_CLOSE_FAILED',
  PLUGIN_UNKNOWN: 'WEFT_PLUGIN_UNKNOWN',
  CONFIG_INVALID: 'WEFT_CONFIG_INVALID',
  APP_CLOSED: 'WEFT_APP_CLOSED',
  TASK_RESOLVE_FAILED: 'WEFT_TASK_RESOLVE_FAILED',
} as const;

/** One of {@link AppErrorCode}'s values. */
export type AppErrorCodeValue = (typeof AppErrorCode)[keyof typeof AppErrorCode];

/**
 * A plugin object does not have the shape of the contract: no name, `provides` is not a list of
 * port names, `register` is not a function... (`WEFT_PLUGIN_INVALID`).
 */
export class PluginInvalidError extends WeftError {
  constructor(readonly plugin: string, detail: string) {
    super(AppErrorCode.PLUGIN_INVALID,
      `plugin ${plugin} is not a valid Weft plugin: ${detail}. A plugin is an object with a name, ` +
      'a provides list of port names and a register(container, ctx) function (see docs/plugins.md).');
  }
}

/** Two plugins of one app share a name (`WEFT_PLUGIN_DUPLICATE`). */
export class PluginDuplicateError extends WeftError {
  constructor(readonly plugin: string, readonly positions: readonly number[]) {
    super(AppErrorCode.PLUGIN_DUPLICATE,
      `plugin "${plugin}" is passed ${positions.length} times (positions ${positions.join(', ')}). ` +
      'Pass each plugin once; to run two instances of one kind, give them distinct names.');
  }
}

/** A port that must be filled has no provider (`WEFT_PORT_MISSING`). */
export class PortMissingError extends WeftError {
  constructor(readonly port: string, readonly requiredBy: string, readonly hint: string) {
    super(AppErrorCode.PORT_MISSING,
      `no plugin provides the ${port} port, which ${requiredBy} needs. ${hint}`);
  }
}

/** Two plugins provide the same single-provider port (`WEFT_PORT_CONFLICT`). */
export class PortConflictError extends WeftError {
  constructor(readonly port: string, readonly providers: readonly string[]) {
    super(AppErrorCode.PORT_CONFLICT,
      `the ${port} port is provided by more than one plugin (${providers.map((p) => `"${p}"`).join(', ')}). ` +
      'An app has one implementation of it: remove all but one of these plugins, or configure the ' +
      'others not to provide it.');
  }
}

/**
 * After `register()`, the container does not match what the plugin declared: a port in `provides`
 * that was not registered (`WEFT_PORT_NOT_REGISTERED`), or a port registered without being declared
 * in `provides` (`WEFT_PORT_UNDECLARED`).
 */
export class PluginRegistrationError extends WeftError {
  constructor(code: typeof AppErrorCode.PORT_NOT_REGISTERED | typeof AppErrorCode.PORT_UNDECLARED,
    readonly plugin: string, readonly port: string) {
    super(code, code === AppErrorCode.PORT_NOT_REGISTERED
      ? `plugin "${plugin}" declares that it provides the ${port} port, but its register() did not ` +
        `register anything under that port's token. Register it there, or remove "${port}" from provides.`
      : `plugin "${plugin}" registered the ${port} port without declaring it. Add "${port}" to its ` +
        'provides list, so that the bootstrap can check the plugin set before it starts anything.');
  }
}

/** A plugin depends on a plugin that is not in the set (`WEFT_PLUGIN_DEPENDENCY_MISSING`). */
export class PluginDependencyMissingError extends WeftError {
  constructor(readonly plugin: string, readonly dependency: string, readonly available: readonly string[]) {
    super(AppErrorCode.PLUGIN_DEPENDENCY_MISSING,
      `plugin "${plugin}" depends on plugin "${dependency}", which is not passed to the app ` +
      `(plugins passed: ${available.length ? available.map((a) => `"${a}"`).join(', ') : 'none'}). ` +
      `Add the "${dependency}" plugin to the plugins list.`);
  }
}

/** Plugins depend on each other in a loop (`WEFT_PLUGIN_DEPENDENCY_CYCLE`). */
export class PluginDependencyCycleError extends WeftError {
  constructor(readonly cycle: readonly string[]) {
    super(AppErrorCode.PLUGIN_DEPENDENCY_CYCLE,
      `plugins depend on each other in a cycle: ${cycle.join(' -> ')}. Break the cycle: a plugin can ` +
      'only depend on plugins that are initialised before it.');
  }
}

/**
 * A version requirement failed: a dependency's version is outside the range a plugin asks for, or
 * a plugin targets another plugin API version than this core (`WEFT_PLUGIN_VERSION_MISMATCH`).
 */
export class PluginVersionMismatchError extends WeftError {
  constructor(readonly plugin: string, readonly subject: string, readonly wanted: string, readonly found: string) {
    super(AppErrorCode.PLUGIN_VERSION_MISMATCH,
      `plugin "${plugin}" needs ${subject} ${wanted}, but found ${found}. Install versions that match ` +
      '(upgrade or downgrade one side), or relax the requirement.');
  }
}

/** A plugin's `register()` or `init()` threw; the app did not start (`WEFT_PLUGIN_INIT_FAILED`). */
export class PluginInitError extends WeftError {
  constructor(readonly plugin: string, readonly phase: 'register' | 'init', cause: unknown) {
    super(AppErrorCode.PLUGIN_INIT_FAILED,
      `plugin "${plugin}" failed in ${phase}(): ${describe(cause)}. Plugins initialised before it ` +
      'were closed again. Fix the cause (often connection details) and start the app again.', { cause });
  }
}

/**
 * One or more plugins' `close()` threw. Every other plugin was still closed
 * (`WEFT_PLUGIN_CLOSE_FAILED`).
 */
export class PluginCloseError extends WeftError {
  constructor(readonly failures: readonly { readonly plugin: string; readonly error: unknown }[]) {
    super(AppErrorCode.PLUGIN_CLOSE_FAILED,
      `closing the app: ${failures.map((f) => `plugin "${f.plugin}": ${describe(f.error)}`).join('; ')}. ` +
      'The other plugins were closed; resources of the failing ones may still be open.',
      { cause: failures[0]?.error });
  }
}

/** A plugin name is not in the catalog (`WEFT_PLUGIN_UNKNOWN`). */
export class PluginUnknownError extends WeftError {
  constructor(readonly requested: string, readonly known: readonly string[], source: string) {
    super(AppErrorCode.PLUGIN_UNKNOWN,
      `unknown plugin "${requested}" (from ${source}). Known plugins: ${known.length ? known.join(', ') : 'none'}. ` +
      'Use one of these names, or add the plugin to the catalog your bootstrap passes.');
  }
}

/** A configuration value is invalid, e.g. `WEFT_LOG_LEVEL=loud` (`WEFT_CONFIG_INVALID`). */
export class ConfigInvalidError extends WeftError {
  constructor(readonly setting: string, readonly value: unknown, expected: string) {
    super(AppErrorCode.CONFIG_INVALID,
      `invalid ${setting}: ${JSON.stringify(value)}. Expected ${expected}.`);
  }
}

/** The app was used after `close()` (`WEFT_APP_CLOSED`). */
export class AppClosedError extends WeftError {
  constructor(operation: string) {
    super(AppErrorCode.APP_CLOSED,
      `cannot ${operation}: the app is closed. Create a new app with bootstrap() to keep working.`);
  }
}

/** A task class (or another user class) could not be built from the container (`WEFT_TASK_RESOLVE_FAILED`). */
export class TaskResolveError extends WeftError {
  constructor(readonly className: string, cause: unknown) {
    super(AppErrorCode.TASK_RESOLVE_FAILED,
      `cannot build ${className} from the app's container: ${describe(cause)}. Give every constructor ` +
      'parameter an @inject(TOKEN) (needed wherever emitDecoratorMetadata is unavailable, and for ' +
      'interfaces), and register each token, e.g. from a plugin\'s register().', { cause });
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
