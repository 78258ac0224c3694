/**
 * Reading Redis replies whatever their shape (RESP2 arrays, RESP3 maps, Buffers or strings), for
 * the stream readers of this plugin (the transport and the event log).
 *
 * @packageDocumentation
 */

/** A bulk string (a Buffer or a string) as text. */
export function str(v: unknown): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** The entries of the one stream an `XREADGROUP` read, whatever the reply shape (RESP2 or RESP3 map). */
export function entriesOfRead(reply: unknown): unknown[] {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) {
    if (reply.length === 0) return [];
    // RESP3 map flattened to [key, entries] by `call`; RESP2 (and ioredis transformers): [[key, entries]].
    if (Buffer.isBuffer(reply[0]) || typeof reply[0] === 'string') return (reply[1] as unknown[] | undefined) ?? [];
    return ((reply[0] as unknown[])[1] as unknown[] | undefined) ?? [];
  }
  if (reply instanceof Map) return ([...reply.values()][0] as unknown[] | undefined) ?? [];
  return (Object.values(reply as Record<string, unknown>)[0] as unknown[] | undefined) ?? [];
}

/** A flat `[k, v, k, v]` array or a map/object as a record. */
export function asRecord(x: unknown): Record<string, unknown> {
  if (Array.isArray(x)) {
    const r: Record<string, unknown> = {};
    for (let i = 0; i + 1 < x.length; i += 2) r[str(x[i])] = x[i + 1];
    return r;
  }
  if (x instanceof Map) {
    const r: Record<string, unknown> = {};
    for (const [k, v] of x) r[str(k)] = v;
    return r;
  }
  return (x ?? {}) as Record<string, unknown>;
}
