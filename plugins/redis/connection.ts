/**
 * Client ownership shared by the Redis components: a client the user passes in is used and never
 * closed; one made from a URL or options is created lazily, connected in `init` and closed in
 * `close` (STYLE.md, "Connection ownership").
 *
 * @packageDocumentation
 */
import Redis, { Cluster, type RedisOptions } from 'ioredis';

/** An ioredis client: a single node or a Cluster. */
export type RedisClientLike = Redis | Cluster;

/** Where a Redis component connects: a URL, ioredis options, or a client of the caller's. */
export type RedisConnection = string | RedisOptions | RedisClientLike;

/** The default server, when a component is given nothing. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Whether `x` is an ioredis client (or looks like one: a duplicated module copy, a wrapper). */
export function isRedisClient(x: unknown): x is RedisClientLike {
  if (x instanceof Redis || x instanceof Cluster) return true;
  const o = x as { callBuffer?: unknown; sendCommand?: unknown; duplicate?: unknown } | null;
  return typeof o === 'object' && o !== null && typeof o.callBuffer === 'function' &&
    typeof o.sendCommand === 'function' && typeof o.duplicate === 'function';
}

/**
 * The client to use for `conn`, and whether the caller owns it: `owned` is true when it was made
 * here (lazily connected; the caller connects it with {@link connectOwned} and closes it with
 * {@link quitClient}).
 */
export function clientFor(conn: RedisConnection | undefined): { client: RedisClientLike; owned: boolean } {
  const c = conn ?? DEFAULT_REDIS_URL;
  if (isRedisClient(c)) return { client: c, owned: false };
  const client = typeof c === 'string' ? new Redis(c, { lazyConnect: true }) : new Redis({ ...c, lazyConnect: true });
  return { client, owned: true };
}

/** Connects a client made by {@link clientFor} unless it is connecting or connected already. */
export async function connectOwned(client: RedisClientLike): Promise<void> {
  if (client.status === 'wait') await client.connect();
}

/**
 * Closes a client: `QUIT` after the replies of commands already sent when it is connected; a plain
 * disconnect, with no round trip, when it never connected, is still connecting or is retrying.
 */
export async function quitClient(client: RedisClientLike): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready' && client.status !== 'connect') {
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
  await ended;
}
