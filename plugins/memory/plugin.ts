import type { DependencyContainer } from 'tsyringe';
import type { Plugin, PluginContext } from '../../core/app/plugin';
import { DISPATCH_STORE, EVENT_LOG, SCHEMA_STORE, TRANSPORT, WORKFLOW_STORE } from '../../core/app/tokens';
import type { DispatchStore } from '../../core/dispatch/store';
import { MemoryDispatchStore } from './dispatch-store';
import type { SchemaStore } from '../../core/registry/schema-store';
import type { Transport } from '../../core/runtime/transport';
import { MemorySchemaStore } from './schema-store';
import { MemoryTransport, type MemoryTransportOptions } from './transport';
import { MemoryEventLog } from './event-log';
import { MemoryWorkflowStore, type MemoryWorkflowStoreOptions } from './workflow-store';

/** Options of {@link memoryPlugin}. */
export interface MemoryPluginOptions {
  /** Plugin name. Default `memory`. */
  readonly name?: string;
  /**
   * The transport: options for a new {@link MemoryTransport} (created per app, closed with it), or
   * an existing one to share between apps of one process (never closed by the plugin).
   */
  readonly transport?: MemoryTransport | MemoryTransportOptions;
  /** An existing {@link MemorySchemaStore} to share between apps (never closed by the plugin). */
  readonly schemaStore?: MemorySchemaStore;
  /** An existing {@link MemoryDispatchStore} to share between apps (never closed by the plugin). */
  readonly dispatchStore?: MemoryDispatchStore;
  /** An existing {@link MemoryEventLog} to share between apps (never closed by the plugin). */
  readonly eventLog?: MemoryEventLog;
  /** An existing {@link MemoryWorkflowStore} to share between apps (never closed by the plugin). */
  readonly workflowStore?: MemoryWorkflowStore;
  /**
   * Options of the {@link MemoryWorkflowStore} the plugin creates (ignored with `workflowStore`):
   * `retentionMs`, how long a finished execution is kept with its outputs (default 1 hour), and
   * `maxFinished`, the most finished executions kept, oldest finished dropped first (default
   * 10,000; running executions are never dropped). Apps sharing a transport share one workflow
   * store: the first app's options make it.
   */
  readonly workflows?: Pick<MemoryWorkflowStoreOptions, 'retentionMs' | 'maxFinished'>;
}

interface Owned {
  readonly transport?: Transport; readonly schemaStore?: SchemaStore; readonly dispatchStore?: DispatchStore; readonly eventLog?: MemoryEventLog;
  readonly workflowStore?: MemoryWorkflowStore;
}

/**
 * The embedded default: provides `transport` ({@link MemoryTransport}), `schemaStore`
 * ({@link MemorySchemaStore}), `dispatchStore` ({@link MemoryDispatchStore}), `eventLog`
 * ({@link MemoryEventLog}) and `workflowStore` ({@link MemoryWorkflowStore}) inside one process.
 * Nothing is persisted or shared between processes.
 *
 * @remarks
 * Each app gets its own transport and stores, created in `register()` and closed in `close()`.
 * To let two apps of one process (say a client app and a worker app in a test) talk, create one
 * transport and pass it to both: apps sharing a transport also share its schema and dispatch
 * stores and event log, unless you pass your own. Shared instances are never closed by the plugin.
 *
 * @example
 * ```ts
 * const app = await bootstrap({ plugins: [memoryPlugin()] });
 *
 * // two apps on the same in-process queues (and so the same schema and dispatch stores)
 * const transport = new MemoryTransport();
 * const producer = await bootstrap({ plugins: [memoryPlugin({ transport })] });
 * const worker = await bootstrap({ plugins: [memoryPlugin({ transport })] });
 * ```
 */
/** The stores of apps sharing one transport (created on first use, kept as long as the transport). */
interface SharedStores { schemaStore: MemorySchemaStore; dispatchStore: MemoryDispatchStore; eventLog: MemoryEventLog; workflowStore: MemoryWorkflowStore }
const storesOf = new WeakMap<MemoryTransport, SharedStores>();
function sharedStores(t: MemoryTransport, workflows?: MemoryWorkflowStoreOptions): SharedStores {
  let s = storesOf.get(t);
  if (!s) storesOf.set(t, (s = { schemaStore: new MemorySchemaStore(), dispatchStore: new MemoryDispatchStore(), eventLog: new MemoryEventLog(), workflowStore: new MemoryWorkflowStore(workflows) }));
  return s;
}

export function memoryPlugin(options: MemoryPluginOptions = {}): Plugin {
  const owned = new WeakMap<DependencyContainer, Owned>();
  return {
    name: options.name ?? 'memory',
    provides: ['transport', 'schemaStore', 'dispatchStore', 'eventLog', 'workflowStore'],
    register(container) {
      const given = options.transport instanceof MemoryTransport ? options.transport : undefined;
      const transport = given ?? new MemoryTransport(options.transport as MemoryTransportOptions | undefined);
      // Apps that share a transport share its stores too, unless given their own: a producer and a
      // worker on the same queues must see the same schemas and the same dispatch records.
      const shared = given ? sharedStores(given, options.workflows) : undefined;
      const schemaStore = options.schemaStore ?? shared?.schemaStore ?? new MemorySchemaStore();
      container.registerInstance(TRANSPORT, transport);
      container.registerInstance(SCHEMA_STORE, schemaStore);
      const dispatchStore = options.dispatchStore ?? shared?.dispatchStore ?? new MemoryDispatchStore();
      container.registerInstance(DISPATCH_STORE, dispatchStore);
      // Producer and worker apps on one transport must see the same event streams (progress, cancellations).
      const eventLog = options.eventLog ?? shared?.eventLog ?? new MemoryEventLog();
      container.registerInstance(EVENT_LOG, eventLog);
      const workflowStore = options.workflowStore ?? shared?.workflowStore ?? new MemoryWorkflowStore(options.workflows);
      container.registerInstance(WORKFLOW_STORE, workflowStore);
      owned.set(container, {
        transport: given ? undefined : transport,
        schemaStore: options.schemaStore || shared ? undefined : schemaStore,
        dispatchStore: options.dispatchStore || shared ? undefined : dispatchStore,
        eventLog: options.eventLog || shared ? undefined : eventLog,
        workflowStore: options.workflowStore || shared ? undefined : workflowStore,
      });
    },
    async init({ container }: PluginContext) {
      const mine = owned.get(container);
      await mine?.schemaStore?.init?.();
      await mine?.transport?.init?.();
    },
    async close({ container }: PluginContext) {
      const mine = owned.get(container);
      owned.delete(container);
      await mine?.transport?.close();
      await mine?.schemaStore?.close();
      await mine?.dispatchStore?.close();
      await mine?.eventLog?.close();
      await mine?.workflowStore?.close();
    },
  };
}
