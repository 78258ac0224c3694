import type { ConnectionOptions } from 'node:tls';
import Redis, { type RedisOptions } from 'ioredis';
import type { DependencyContainer } from 'tsyringe';
import { PluginInvalidError } from '../../core/app/errors';
import type { Plugin, PluginContext } from '../../core/app/plugin';
import { DISPATCH_LEDGER, DISPATCH_STORE, EVENT_LOG, SCHEMA_STORE, TRANSPORT, WORKFLOW_STORE } from '../../core/app/tokens';
import { RedisEventLog, type RedisEventLogOptions } from './event-log';
import { RedisWorkflowStore, type RedisWorkflowStoreOptions } from './workflow-store';
import { RedisDispatchLedger } from './dispatch-ledger';
import { RedisDispatchStore, type RedisDispatchStoreOptions } from './dispatch-store';
import { DEFAULT_REDIS_URL, quitClient } from './connection';
import { RedisSchemaStore, type RedisClientLike } from './schema-store';
import { RedisStreamsTransport, type RedisStreamsTransportOptions } from './streams-transport';
import { WireField } from '../../core/tasks/wire';

/** The connection URL used when neither `url` nor `redis` is given. */
export { DEFAULT_REDIS_URL };

/** Options of {@link redisPlugin}. */
export interface RedisPluginOptions {
  /** Plugin name. Default `redis`. */
  readonly name?: string;
  /**
   * Where to connect: `redis://[user:password@]host:port[/db]`, or `rediss://...` for TLS.
   * Default {@link DEFAULT_REDIS_URL}. The plugin creates the client, connects it in `init()` and
   * closes it in `close()`. Not allowed together with `redis`.
   */
  readonly url?: string;
  /**
   * An ioredis client (`Redis` or `Cluster`) you created. The plugin uses it and never closes it:
   * whoever creates a connection closes it. Its TLS and ACL settings are yours.
   */
  readonly redis?: RedisClientLike;
  /** Key prefix shared by the schema store and the transport. Default `weft`. */
  readonly prefix?: string;
  /** TLS for a client the plugin creates: `true`, or options for Node's `tls.connect`. */
  readonly tls?: boolean | ConnectionOptions;
  /** Redis 6+ ACL user for a client the plugin creates. */
  readonly username?: string;
  /** Password (of `username`, or of the `default` user) for a client the plugin creates. */
  readonly password?: string;
  /** Other ioredis options for a client the plugin creates (`db`, `connectTimeout`, ...). */
  readonly redisOptions?: Omit<RedisOptions, 'lazyConnect'>;
  /** Transport tuning: retention and binary fields (see {@link RedisStreamsTransportOptions}). */
  readonly transport?: Omit<RedisStreamsTransportOptions, 'redis' | 'prefix'>;
  /** Dispatch store tuning: how long terminal records are kept (see {@link RedisDispatchStoreOptions}). */
  readonly dispatch?: Omit<RedisDispatchStoreOptions, 'redis' | 'prefix'>;
  /** Event log tuning: default retention of event streams (see {@link RedisEventLogOptions}). */
  readonly eventLog?: Omit<RedisEventLogOptions, 'redis' | 'prefix'>;
  /** Workflow store tuning: how long finished flow executions are kept (see {@link RedisWorkflowStoreOptions}). */
  readonly workflows?: Omit<RedisWorkflowStoreOptions, 'redis' | 'prefix'>;
}

interface AppState {
  readonly transport: RedisStreamsTransport;
  readonly schemaStore: RedisSchemaStore;
  readonly dispatchStore: RedisDispatchStore;
  readonly eventLog: RedisEventLog;
  readonly workflowStore: RedisWorkflowStore;
  /** The client the plugin created for this app; undefined when the user passed one. */
  readonly owned?: Redis;
}

/**
 * Runs an app distributed over Redis: provides `transport` ({@link RedisStreamsTransport}, Redis
 * Streams with consumer groups), `schemaStore` ({@link RedisSchemaStore}, the wire contract's
 * `<prefix>:schemas` hash), `dispatchStore`, `dispatchLedger` and `eventLog`
 * ({@link RedisEventLog}, `<prefix>:events:{<stream>}`).
 *
 * @remarks
 * One client per app carries the non-blocking commands of both the store and the transport; the
 * transport opens its own connections for blocking reads (duplicates of that client) and closes
 * them. Ownership: a client passed as `redis` is never closed or disconnected by the plugin (nor by
 * the store or transport); a client the plugin created from `url` is connected in `init()` and
 * quit in `close()`.
 *
 * @example
 * ```ts
 * const app = await bootstrap({ plugins: [redisPlugin({ url: process.env.REDIS_URL })] });
 *
 * // TLS with an ACL user
 * redisPlugin({ url: 'rediss://cache.internal:6380', username: 'weft', password: secret, tls: { ca } });
 *
 * // your own client: still open after app.close()
 * const client = new Redis(url);
 * const shared = await bootstrap({ plugins: [redisPlugin({ redis: client, prefix: 'billing' })] });
 * ```
 */
export function redisPlugin(options: RedisPluginOptions = {}): Plugin {
  const name = options.name ?? 'redis';
  if (options.url !== undefined && options.redis !== undefined) {
    throw new PluginInvalidError(`"${name}"`, 'pass either url (the plugin creates and closes the client) or redis (your client), not both');
  }
  const apps = new WeakMap<DependencyContainer, AppState>();
  return {
    name,
    provides: ['transport', 'schemaStore', 'dispatchStore', 'dispatchLedger', 'eventLog', 'workflowStore'],
    register(container) {
      const owned = options.redis ? undefined : createClient(options);
      const client: RedisClientLike = options.redis ?? (owned as Redis);
      const state: AppState = {
        owned,
        schemaStore: new RedisSchemaStore({ redis: client, prefix: options.prefix }),
        dispatchStore: new RedisDispatchStore({ redis: client, prefix: options.prefix, ...options.dispatch }),
        workflowStore: new RedisWorkflowStore({ redis: client, prefix: options.prefix, ...options.workflows }),
        // Weft's own messages carry one binary field, the protobuf payload (wire contract): the
        // others arrive as strings, without a Buffer each on the way.
        transport: new RedisStreamsTransport({ binaryFields: [WireField.PAYLOAD], ...options.transport, redis: client, prefix: options.prefix }),
        eventLog: new RedisEventLog({ ...options.eventLog, redis: client, prefix: options.prefix }),
      };
      container.registerInstance(SCHEMA_STORE, state.schemaStore);
      container.registerInstance(DISPATCH_STORE, state.dispatchStore);
      container.registerInstance(TRANSPORT, state.transport);
      container.registerInstance(WORKFLOW_STORE, state.workflowStore);
      container.registerInstance(DISPATCH_LEDGER, new RedisDispatchLedger(state.transport, state.dispatchStore));
      container.registerInstance(EVENT_LOG, state.eventLog);
      apps.set(container, state);
    },
    async init(ctx: PluginContext) {
      const state = apps.get(ctx.container) as AppState;
      const { owned } = state;
      try {
        if (owned) {
          owned.on('error', (err) => ctx.logger.warn({ err }, 'redis connection error'));
          if (owned.status === 'wait') await owned.connect();
        }
        await state.schemaStore.init();
        await state.dispatchStore.init();
        await state.transport.init();
        await state.eventLog.init();
      } catch (e) {
        await release(state);
        throw e;
      }
      ctx.logger.debug({ prefix: state.transport.prefix, ownsClient: owned !== undefined }, 'redis plugin ready');
    },
    async close(ctx: PluginContext) {
      const state = apps.get(ctx.container);
      if (!state) return;
      apps.delete(ctx.container);
      await release(state);
    },
  };
}

function createClient(options: RedisPluginOptions): Redis {
  const extra: RedisOptions = { ...options.redisOptions, lazyConnect: true };
  if (options.tls !== undefined && options.tls !== false) extra.tls = options.tls === true ? {} : options.tls;
  if (options.username !== undefined) extra.username = options.username;
  if (options.password !== undefined) extra.password = options.password;
  const client = new Redis(options.url ?? DEFAULT_REDIS_URL, extra);
  // Errors surface through the failing commands; init() adds a logging listener.
  client.on('error', () => undefined);
  return client;
}

/** Closes the event log, the transport and the stores (none owns the client), then the client if we created it. */
async function release(state: AppState): Promise<void> {
  const errors: unknown[] = [];
  for (const step of [() => state.eventLog.close(), () => state.transport.close(), () => state.dispatchStore.close(), () => state.workflowStore.close(), () => state.schemaStore.close()]) {
    try {
      await step();
    } catch (e) {
      errors.push(e);
    }
  }
  if (state.owned) await quitClient(state.owned);
  if (errors.length) throw errors[0];
}
