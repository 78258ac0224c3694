import type { DependencyContainer } from 'tsyringe';
import type { Plugin, PluginContext } from '../../core/app/plugin';
import { DISPATCH_STORE, SCHEMA_STORE, TRANSPORT } from '../../core/app/tokens';
import type { DispatchStore } from '../../core/dispatch/store';
import { MemoryDispatchStore } from './dispatch-store';
import type { SchemaStore } from '../../core/registry/schema-store';
import type { Transport } from '../../core/runtime/transport';
import { MemorySchemaStore } from './schema-store';
import { MemoryTransport, type MemoryTransportOptions } from './transport';

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
}

interface Owned { readonly transport?: Transport; readonly schemaStore?: SchemaStore; readonly dispatchStore?: DispatchStore }

/**
 * The embedded default: provides `transport` ({@link MemoryTransport}) and `schemaStore`
 * ({@link MemorySchemaStore}) inside one process. Nothing is persisted or shared between processes.
 *
 * @remarks
 * Each app gets its own transport and store, created in `register()` and closed in `close()`.
 * To let two apps of one process (say a client app and a worker app in a test) talk, create one
 * transport and one store and pass them to both: shared instances are never closed by the plugin.
 *
 * @example
 * ```ts
 * const app = await bootstrap({ plugins: [memoryPlugin()] });
 *
 * // two apps on the same in-process queues
 * const transport = new MemoryTransport();
 * const schemaStore = new MemorySchemaStore();
 * const producer = await bootstrap({ plugins: [memoryPlugin({ transport, schemaStore })] });
 * const worker = await bootstrap({ plugins: [memoryPlugin({ transport, schemaStore })] });
 * ```
 */
export function memoryPlugin(options: MemoryPluginOptions = {}): Plugin {
  const owned = new WeakMap<DependencyContainer, Owned>();
  return {
    name: options.name ?? 'memory',
    provides: ['transport', 'schemaStore', 'dispatchStore'],
    register(container) {
      const given = options.transport instanceof MemoryTransport ? options.transport : undefined;
      const transport = given ?? new MemoryTransport(options.transport as MemoryTransportOptions | undefined);
      const schemaStore = options.schemaStore ?? new MemorySchemaStore();
      container.registerInstance(TRANSPORT, transport);
      container.registerInstance(SCHEMA_STORE, schemaStore);
      const dispatchStore = options.dispatchStore ?? new MemoryDispatchStore();
      container.registerInstance(DISPATCH_STORE, dispatchStore);
      owned.set(container, {
        transport: given ? undefined : transport,
        schemaStore: options.schemaStore ? undefined : schemaStore,
        dispatchStore: options.dispatchStore ? undefined : dispatchStore,
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
    },
  };
}
