/**
 * Every dependency-injection token Weft uses, in one module.
 *
 * @remarks
 * Tokens are symbols (`Symbol.for('weft.<port>')`), so two copies of Weft loaded in one process
 * still agree on them. No other file declares a token literal: grep for `Symbol.for('weft.` finds
 * this file only. Plugins register their implementations under these tokens in the app's child
 * container (see `core/app/plugin.ts`); constructors ask for them with `@inject(TOKEN)`, or with
 * `@injectAll(TASK_RESOLVERS)` for the one port that takes several providers.
 *
 * @example
 * ```ts
 * import { inject } from 'tsyringe';
 * import { LOGGER, TRANSPORT } from 'weft/core/app/tokens';
 * import type { Logger } from 'pino';
 * import type { Transport } from 'weft/core/runtime/transport';
 *
 * class Ping {
 *   constructor(@inject(TRANSPORT) private transport: Transport, @inject(LOGGER) private log: Logger) {}
 * }
 * ```
 *
 * @packageDocumentation
 */

/** The `Transport` port (`core/runtime/transport.ts`): one per app. */
export const TRANSPORT: unique symbol = Symbol.for('weft.transport');

/** The `SchemaStore` port (`core/registry/schema-store.ts`): one per app. */
export const SCHEMA_STORE: unique symbol = Symbol.for('weft.schemaStore');

/** The DispatchStore port (per-item state machine, seed 002; `core/dispatch/store.ts`). The memory and redis plugins provide it. */
export const DISPATCH_STORE: unique symbol = Symbol.for('weft.dispatchStore');

/**
 * The DispatchLedger port (`core/dispatch/ledger.ts`): optional. A plugin that can pair record
 * transitions with queue operations atomically provides one; otherwise the runtime composes the
 * app's DispatchStore and Transport into a `StoreLedger`.
 */
export const DISPATCH_LEDGER: unique symbol = Symbol.for('weft.dispatchLedger');

/**
 * The EventLog port (`core/events/event-log.ts`): optional. Append-only event streams with
 * independent readers: workflow progress events (`app.subscribe`) and the cancellation broadcast
 * (`app.cancel`). The memory and redis plugins provide it.
 */
export const EVENT_LOG: unique symbol = Symbol.for('weft.eventLog');

/**
 * The WorkflowStore port (`core/workflow/store.ts`): durable state of flow executions, shared by
 * every orchestrator. Optional: only apps that run flows need it; the memory and redis plugins provide it.
 */
export const WORKFLOW_STORE: unique symbol = Symbol.for('weft.workflowStore');

/** The ResultStore port (task outputs awaited by clients). Reserved: the port is not written yet. */
export const RESULT_STORE: unique symbol = Symbol.for('weft.resultStore');

/**
 * Task resolvers (seed 001). Several plugins may each register one: inject them all with
 * `@injectAll(TASK_RESOLVERS)` or `container.resolveAll(TASK_RESOLVERS)`.
 */
export const TASK_RESOLVERS: unique symbol = Symbol.for('weft.taskResolvers');

/** The app's root pino logger. The bootstrap registers a default one unless a plugin provides it. */
export const LOGGER: unique symbol = Symbol.for('weft.logger');

/** The app's frozen `WeftConfig`. Always registered by the bootstrap, never by a plugin. */
export const WEFT_CONFIG: unique symbol = Symbol.for('weft.config');

/**
 * The running task's `TaskContext`. Not a port: the worker registers it in the per-task scope it
 * resolves the task class from (`WeftApp.resolveTask`), so task constructors may inject it.
 */
export const TASK_CONTEXT: unique symbol = Symbol.for('weft.taskContext');

/**
 * The name of a port a plugin can fill, as written in `Plugin.provides` and
 * `Plugin.requires`.
 */
export type PortName = 'transport' | 'schemaStore' | 'dispatchStore' | 'dispatchLedger' | 'resultStore' | 'taskResolvers' | 'logger'
  | 'eventLog' | 'workflowStore';

/** What the bootstrap knows about one port. */
export interface PortSpec {
  /** The token implementations are registered under. */
  readonly token: symbol;
  /**
   * `true` when several plugins may provide the port (they all get injected, `injectAll`);
   * `false` when a second provider is a `WEFT_PORT_CONFLICT`.
   */
  readonly multiple: boolean;
  /** One line for error messages: what the port is for. */
  readonly description: string;
}

/**
 * Every port, by name. The bootstrap validates plugin sets against this table.
 *
 * @example
 * ```ts
 * const store = container.resolve<SchemaStore>(PORTS.schemaStore.token);
 * ```
 */
export const PORTS: Readonly<Record<PortName, PortSpec>> = Object.freeze({
  transport: { token: TRANSPORT, multiple: false, description: 'moves task messages between producers and workers' },
  schemaStore: { token: SCHEMA_STORE, multiple: false, description: 'stores schemas shared by every machine' },
  dispatchStore: { token: DISPATCH_STORE, multiple: false, description: 'records the per-item dispatch state machine' },
  dispatchLedger: { token: DISPATCH_LEDGER, multiple: false, description: 'pairs dispatch record transitions with queue operations (optional)' },
  workflowStore: { token: WORKFLOW_STORE, multiple: false, description: 'keeps the durable state of flow executions (optional)' },
  resultStore: { token: RESULT_STORE, multiple: false, description: 'keeps task outputs for clients awaiting them' },
  taskResolvers: { token: TASK_RESOLVERS, multiple: true, description: 'turns envelopes into task classes' },
  logger: { token: LOGGER, multiple: false, description: 'the app\'s pino logger (a default is provided)' },
  eventLog: { token: EVENT_LOG, multiple: false, description: 'append-only event streams: progress events and cancellations (optional)' },
});

/** Every port name, in a stable order. */
export const PORT_NAMES: readonly PortName[] = Object.freeze(Object.keys(PORTS) as PortName[]);

/**
 * The ports the runtime (client and worker) cannot work without. The bootstrap refuses a plugin set
 * that leaves one of them empty (`WEFT_PORT_MISSING`), unless told otherwise with
 * `BootstrapOptions.requiredPorts`.
 */
export const RUNTIME_PORTS: readonly PortName[] = Object.freeze(['transport', 'schemaStore', 'dispatchStore'] as PortName[]);

/** `true` when `name` is one of {@link PORT_NAMES}. */
export function isPortName(name: unknown): name is PortName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(PORTS, name);
}
