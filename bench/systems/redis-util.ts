import Redis from 'ioredis';
import { BENCH_REDIS_URL } from './system';

/** A plain connection to the benchmark's Redis. Errors surface on the commands, not as unhandled events. */
export function connect(name: string): Redis {
  const client = new Redis(BENCH_REDIS_URL, { connectionName: name, maxRetriesPerRequest: null, enableAutoPipelining: false });
  client.on('error', () => { /* reported by the failing command */ });
  return client;
}

/** Deletes every key that starts with `prefix`; returns how many there were. */
export async function deletePrefix(client: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) {
      count += keys.length;
      await client.unlink(...keys);
    }
  } while (cursor !== '0');
  return count;
}

const globEscape = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** One stream entry as read by XREAD / XREADGROUP. */
export interface Entry {
  readonly id: string;
  readonly fields: readonly string[];
}

/**
 * Flattens an XREAD / XREADGROUP reply to its entries, whatever shape the client returns
 * (RESP2 `[[key, [[id, fields]...]]...]`, or a map of key to entries under RESP3). `null` = timeout.
 */
export function entriesOf(reply: unknown): Entry[] {
  if (reply == null) return [];
  const streams: unknown[] = reply instanceof Map ? [...reply.values()]
    : Array.isArray(reply) ? reply.map((s) => (Array.isArray(s) ? s[1] : s))
      : Object.values(reply as Record<string, unknown>);
  const out: Entry[] = [];
  for (const items of streams) {
    for (const item of items as Array<[string, string[] | null]>) {
      if (item[1]) out.push({ id: String(item[0]), fields: item[1] });
    }
  }
  return out;
}

/** The value of `name` in a flat [name, value, name, value...] field list. */
export function field(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length - 1; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
