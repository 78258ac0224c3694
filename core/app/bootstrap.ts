import 'reflect-metadata';
import { container as rootContainer, injectable } from 'tsyringe';
import type { DependencyContainer, InjectionToken } from 'tsyringe';
import type { Logger } from 'pino';
import type { SchemaStore } from '../registry/schema-store';
import type { Transport } from '../runtime/transport';
import type { DispatchStore } from '../dispatch/store';
import type { DispatchLedger } from '../dispatch/ledger';
import { MetadataKeys } from '../../decorators/keys';
import { WeftError } from '../errors';
import { createLogger } from '../observability/logger';
import { pluginsFromEnv, type PluginCatalog } from './catalog';
import type { WeftConfig } from './config';
import {
  AppClosedError, PluginCloseError, PluginInitError, PluginInvalidError, PluginRegistrationError, AppErrorCode,
  TaskResolveError,
} from './errors';
import type { Plugin, PluginContext, PluginInput } from './plugin';
import { DISPATCH_LEDGER, DISPATCH_STORE, LOGGER, PORTS, PORT_NAMES, SCHEMA_STORE, TRANSPORT, WEFT_CONFIG, type PortName } from './tokens';
import { validatePlugins } from './validate';

/** A class the container can build. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Constructor<T> = new (...args: any[]) => T;

/** Options of {@link bootstrap}. */
export interface BootstrapOptions {
  /**
   * The plugins, as objects or factories (called once with the app's config). When omitted, and
   * a {@link BootstrapOptions.catalog} is given, they are chosen by environment with
   * `pluginsFromEnv(config.env ?? process.env, catalog)`.
   */
  readonly plugins?: readonly PluginInput[];
  /** Used only when `plugins` is omitted: configuration by name (`WEFT_TRANSPORT`, `REDIS_URL`). */
  readonly catalog?: PluginCatalog;
  /** App-wide configuration; frozen and registered under `WEFT_CONFIG`. */
  readonly config?: WeftConfig;
  /**
   * The container the app's child container is made from. Default: tsyringe's root container.
   * The app never registers anything in the parent; it only reads through to it.
   */
  readonly parent?: DependencyContainer;
  /** Ports that must be filled. Default `['transport', 'schemaStore', 'dispatchStore']` (what client and worker need). */
  readonly requiredPorts?: readonly PortName[];
}

/**
 * Builds and starts one Weft app: validates the plugin set, creates the app's tsyringe child
 * container, lets each plugin register into it, then runs each plugin's `init()` in dependency
 * order.
 *
 * @remarks
 * Nothing is registered, connected or started until the whole plugin set has passed
 * `validatePlugins` (see its list of coded errors). The global tsyringe container is never
 * written to: every registration goes into the app's own child container, so two apps in one
 * process do not share registrations. If a plugin's `register()` or `init()` throws, the plugins
 * already initialised are closed in reverse order and a `PluginInitError`
 * (`WEFT_PLUGIN_INIT_FAILED`) is thrown with the original error as `cause`.
 *
 * Registered by the bootstrap itself: `WEFT_CONFIG` (the frozen config) and, unless a plugin
 * provides `logger`, a default pino logger under `LOGGER` (see `createLogger`).
 *
 * @throws {@link WeftError} with one of `AppErrorCode`'s codes.
 *
 * @example
 * ```ts
 * import 'reflect-metadata';
 * import { inject } from 'tsyringe';
 * import { bootstrap } from 'weft/core/app';
 * import { memoryPlugin } from 'weft/plugins/memory';
 *
 * const app = await bootstrap({ plugins: [memoryPlugin(), dbPlugin(pool)], config: { name: 'etl' } });
 * class Extract { constructor(@inject(Db) private db: Db) {} }
 * const task = app.resolveTask(Extract);   // db comes from the app's container
 * await app.close();                       // plugins close in reverse order
 * ```
 *
 * @example Configuration by name
 * ```ts
 * // WEFT_TRANSPORT=redis REDIS_URL=redis://10.0.0.5:6379, or nothing at all for memory
 * const app = await bootstrap({ catalog: defaultCatalog() });
 * ```
 */
export async function bootstrap(options: BootstrapOptions = {}): Promise<WeftApp> {
  const config: Readonly<WeftConfig> = Object.freeze({ ...(options.config ?? {}) });
  const env = config.env ?? process.env;
  const inputs = options.plugins ?? (options.catalog ? pluginsFromEnv(env, options.catalog) : []);
  const plugins = inputs.map((input, i) => instantiate(input, i, config));
  const { ordered, providers } = validatePlugins(plugins, { requiredPorts: options.requiredPorts });

  // Built before the container exists, so that a bad WEFT_LOG_LEVEL fails before anything else.
  const defaultLogger = providers.has('logger')
    ? undefined
    : createLogger({ level: config.logLevel, name: config.name, env });

  const container = (options.parent ?? rootContainer).createChildContainer();
  container.registerInstance(WEFT_CONFIG, config);
  if (defaultLogger) container.registerInstance(LOGGER, defaultLogger);

  for (const plugin of ordered) {
    const before = portsRegistered(container);
    try {
      plugin.register(container, { config });
    } catch (e) {
      await disposeQuietly(container);
      throw new PluginInitError(plugin.name, 'register', e);
    }
    const after = portsRegistered(container);
    for (const port of PORT_NAMES) {
      if (PORTS[port].multiple) continue;
      const declared = plugin.provides.includes(port);
      if (declared && !after.has(port)) {
        await disposeQuietly(container);
        throw new PluginRegistrationError(AppErrorCode.PORT_NOT_REGISTERED, plugin.name, port);
      }
      if (!declared && after.has(port) && !before.has(port)) {
        await disposeQuietly(container);
        throw new PluginRegistrationError(AppErrorCode.PORT_UNDECLARED, plugin.name, port);
      }
    }
  }

  const logger = container.resolve<Logger>(LOGGER);
  const contexts = new Map<Plugin, PluginContext>(ordered.map((p) => [p, Object.freeze({
    config, container, logger: logger.child({ plugin: p.name }),
  })]));
  const started: Plugin[] = [];
  for (const plugin of ordered) {
    const ctx = contexts.get(plugin) as PluginContext;
    try {
      if (plugin.init) await plugin.init(ctx);
    } catch (e) {
      const failures = await closeAll(started, contexts);
      for (const f of failures) logger.error({ err: f.error, plugin: f.plugin }, 'closing after a failed start-up');
      await disposeQuietly(container);
      throw new PluginInitError(plugin.name, 'init', e);
    }
    started.push(plugin);
    ctx.logger.debug({ version: plugin.version, provides: plugin.provides }, 'plugin initialised');
  }
  return new WeftApp(container, config, logger, ordered, contexts);
}

/**
 * One running Weft app: its child container, its plugins and their lifecycle. Built by
 * {@link bootstrap}; the runtime (client, worker) is built on top of it.
 *
 * @example
 * ```ts
 * const app = await bootstrap({ plugins: [memoryPlugin()] });
 * await app.transport.publish('etl', [{ hello: 'world' }]);
 * await app.close();
 * ```
 */
export class WeftApp {
  private closing?: Promise<void>;

  /** @internal Use {@link bootstrap}. */
  constructor(
    /** The app's own tsyringe child container. Register user services here or from a plugin. */
    readonly container: DependencyContainer,
    /** The frozen configuration (also under `WEFT_CONFIG`). */
    readonly config: Readonly<WeftConfig>,
    /** The app's root logger (also under `LOGGER`). */
    readonly logger: Logger,
    /** The plugins, in initialisation order. */
    readonly plugins: readonly Plugin[],
    private readonly contexts: ReadonlyMap<Plugin, PluginContext>,
  ) {}

  /** `true` once {@link close} has been called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** The app's {@link Transport}. */
  get transport(): Transport {
    return this.resolve<Transport>(TRANSPORT);
  }

  /** The app's {@link SchemaStore}. */
  get schemaStore(): SchemaStore {
    return this.resolve<SchemaStore>(SCHEMA_STORE);
  }

  /** The app's {@link DispatchStore}. */
  get dispatchStore(): DispatchStore {
    return this.resolve<DispatchStore>(DISPATCH_STORE);
  }

  /** The ledger a plugin provides, or `undefined` (the runtime then composes one). */
  get dispatchLedger(): DispatchLedger | undefined {
    return this.has('dispatchLedger') ? this.resolve<DispatchLedger>(DISPATCH_LEDGER) : undefined;
  }

  /** `true` when some plugin (or the bootstrap, for `logger`) filled the port. */
  has(port: PortName): boolean {
    return this.container.isRegistered(PORTS[port].token, false);
  }

  /**
   * Resolves a token from the app's container.
   *
   * @throws {@link AppClosedError} (`WEFT_APP_CLOSED`) after {@link close}.
   *
   * @example
   * ```ts
   * const store = app.resolve<SchemaStore>(SCHEMA_STORE);
   * ```
   */
  resolve<T>(token: InjectionToken<T>): T {
    this.assertOpen(`resolve ${String(tokenLabel(token))}`);
    return this.container.resolve<T>(token);
  }

  /** Every registration of a multi-provider token, e.g. `TASK_RESOLVERS`; empty when there are none. */
  resolveAll<T>(token: InjectionToken<T>): T[] {
    this.assertOpen(`resolve ${String(tokenLabel(token))}`);
    return this.container.isRegistered(token, true) ? this.container.resolveAll<T>(token) : [];
  }

  /**
   * A fresh child of the app's container, for one task. Register per-task values in it (the
   * `TASK_CONTEXT`, a child logger) before resolving the task from it.
   */
  createScope(): DependencyContainer {
    this.assertOpen('create a scope');
    return this.container.createChildContainer();
  }

  /**
   * Builds an instance of a user class (a task class) with its constructor dependencies taken from
   * the app's container.
   *
   * @remarks
   * Scope: each call creates a new child container of the app's container (a task scope) and
   * resolves `ctor` from it, so each call returns a new instance. App-level registrations (ports,
   * services registered by plugins, `registerSingleton`s) are shared through the parent chain;
   * `provide` registers per-task values (the `TASK_CONTEXT`, a child logger) in the scope, where
   * they are visible to this instance only and are dropped with it.
   *
   * The class needs neither `@injectable()` nor registration: its parameter types are read from
   * `@inject(TOKEN)` and from `emitDecoratorMetadata`, which TypeScript emits only for a class that
   * carries a decorator (a task's `@Task` does). Interfaces, primitives, undecorated classes and
   * code compiled without decorator metadata (esbuild, tsx) need `@inject(TOKEN)` on each parameter. A parameter that cannot be resolved is a
   * `TaskResolveError` (`WEFT_TASK_RESOLVE_FAILED`) naming the class and the position.
   *
   * @example
   * ```ts
   * class Extract {
   *   constructor(@inject(Db) private db: Db, @inject(LOGGER) private log: Logger) {}
   * }
   * const task = app.resolveTask(Extract, (scope) => scope.registerInstance(TASK_CONTEXT, ctx));
   * ```
   */
  resolveTask<T>(ctor: Constructor<T>, provide?: (scope: DependencyContainer) => void): T {
    const scope = this.createScope();
    provide?.(scope);
    return resolveClass(scope, ctor);
  }

  /**
   * Closes the plugins in reverse initialisation order, then disposes the container. Idempotent:
   * later calls return the first call's promise. Every plugin is closed even if another one's
   * `close()` fails; failures are reported together as a `PluginCloseError`
   * (`WEFT_PLUGIN_CLOSE_FAILED`).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const failures = await closeAll(this.plugins, this.contexts);
      try {
        await this.container.dispose();
      } catch (e) {
        failures.push({ plugin: '<container>', error: e });
      }
      if (failures.length) throw new PluginCloseError(failures);
    })();
    return this.closing;
  }

  private assertOpen(operation: string): void {
    if (this.closing) throw new AppClosedError(operation);
  }
}

const checked = new WeakSet<object>();

/**
 * Resolves `ctor` from `container`, giving tsyringe the constructor's parameter info when the class
 * has no `@injectable()`. Used by {@link WeftApp.resolveTask}; exported for runtimes that manage
 * their own scopes.
 *
 * @throws {@link TaskResolveError} (`WEFT_TASK_RESOLVE_FAILED`) when a parameter has no usable
 * token (an interface or primitive without `@inject`, missing decorator metadata) or its token is
 * not registered.
 *
 * @example
 * ```ts
 * const scope = app.createScope();
 * scope.registerInstance(TASK_CONTEXT, ctx);
 * const task = resolveClass(scope, Extract);
 * ```
 */
export function resolveClass<T>(container: DependencyContainer, ctor: Constructor<T>): T {
  if (!checked.has(ctor)) {
    prepareClass(ctor);
    checked.add(ctor);
  }
  try {
    return container.resolve<T>(ctor);
  } catch (e) {
    if (e instanceof WeftError) throw e;
    throw new TaskResolveError(ctor.name || '<anonymous class>', e);
  }
}

/**
 * tsyringe's metadata key for `@inject()` tokens (not exported by tsyringe). Read only, to check that
 * each parameter has a token before tsyringe would silently inject `new Object()` for an interface.
 */
const TSYRINGE_INJECTION_TOKENS = 'injectionTokens';

const UNINJECTABLE = new Set<unknown>([Object, String, Number, Boolean, Symbol, BigInt, Array, Function, Promise, undefined]);

function prepareClass(ctor: Constructor<unknown>): void {
  if (ctor.length === 0) return;
  const name = ctor.name || '<anonymous class>';
  const types: unknown[] | undefined = Reflect.getMetadata(MetadataKeys.DESIGN_PARAM_TYPES, ctor);
  const tokens: Record<string, unknown> = Reflect.getOwnMetadata(TSYRINGE_INJECTION_TOKENS, ctor) ?? {};
  for (let i = 0; i < ctor.length; i++) {
    if (Object.prototype.hasOwnProperty.call(tokens, String(i))) continue;
    const t = types?.[i];
    if (UNINJECTABLE.has(t)) {
      const why = types === undefined
        ? 'the class has no decorator metadata (TypeScript emits it only for classes that carry a ' +
          'decorator, and only under emitDecoratorMetadata; esbuild, tsx and Vite never emit it)'
        : `its type is ${t === undefined ? 'unknown' : (t as { name: string }).name} (an interface, union or primitive)`;
      throw new TaskResolveError(name, new Error(`constructor parameter #${i} has no injection token: ${why}; add @inject(TOKEN)`));
    }
  }
  injectable()(ctor);
}

function instantiate(input: PluginInput, index: number, config: Readonly<WeftConfig>): Plugin {
  if (typeof input !== 'function') return input;
  const isClass = /^class[\s{]/.test(Function.prototype.toString.call(input));
  try {
    return isClass
      ? new (input as unknown as new (c: Readonly<WeftConfig>) => Plugin)(config)
      : input(config);
  } catch (e) {
    if (e instanceof WeftError) throw e;
    throw new PluginInvalidError(`#${index} (${input.name || 'anonymous factory'})`,
      `its factory threw: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function portsRegistered(container: DependencyContainer): Set<PortName> {
  return new Set(PORT_NAMES.filter((p) => container.isRegistered(PORTS[p].token, false)));
}

async function closeAll(
  plugins: readonly Plugin[], contexts: ReadonlyMap<Plugin, PluginContext>,
): Promise<{ plugin: string; error: unknown }[]> {
  const failures: { plugin: string; error: unknown }[] = [];
  for (const plugin of [...plugins].reverse()) {
    const ctx = contexts.get(plugin) as PluginContext;
    try {
      if (plugin.close) await plugin.close(ctx);
      ctx.logger.debug('plugin closed');
    } catch (e) {
      failures.push({ plugin: plugin.name, error: e });
    }
  }
  return failures;
}

async function disposeQuietly(container: DependencyContainer): Promise<void> {
  try {
    await container.dispose();
  } catch {
    /* start-up already failed; the original error is what the caller needs */
  }
}

function tokenLabel(token: InjectionToken<unknown>): string {
  if (typeof token === 'function') return token.name;
  return String(token);
}
