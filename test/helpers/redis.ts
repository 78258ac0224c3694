import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';

/** The Redis the integration suites use: `REDIS_URL`, or the machine's local server. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const INSTALL_HINT =
  `Redis is not reachable at ${REDIS_URL}: install and start it (Debian: apt-get install -y redis-server && ` +
  'redis-server --daemonize yes), or set REDIS_URL to a running server.';

/**
 * Connects to the test Redis, failing the suite with one line that says what to install when it
 * cannot be reached. Never skips.
 */
export async function connectTestRedis(): Promise<Redis> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => { /* reported by connect() below */ });
  try {
    await client.connect();
    await client.ping();
  } catch {
    client.disconnect();
    throw new Error(INSTALL_HINT);
  }
  return client;
}

/** A key prefix no other test uses. */
export function uniquePrefix(label: string): string {
  return `weft-test:${label}:${randomBytes(6).toString('hex')}`;
}

/** Deletes every key under a prefix. */
export async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await client.unlink(...keys);
  } while (cursor !== '0');
}
