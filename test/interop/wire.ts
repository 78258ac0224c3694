import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/** What a consumer in another language gets from Redis: nothing but the wire contract's fields. */
export interface ReadBack {
  schemaId: string;
  /** The stream entry's `type`: the root message's full name. */
  type: string;
  payload: Buffer;
  /** `HGET <prefix>:schemas <schema_id>`, read as bytes. */
  schemaBytes: Buffer;
}

/**
 * Writes a message the way Weft does (schema bytes into `<prefix>:schemas` under its id, one
 * stream entry with `schema_id`, `type` and `payload`), then reads it back as a foreign consumer
 * would: the entry from the stream, the schema from the hash by the entry's `schema_id`. The
 * schema id is checked against SHA-256 of the bytes read back, computed here independently.
 */
export async function writeAndReadBack(
  redis: Redis, prefix: string, schema: { id: string; fullName: string; bytes: Uint8Array }, payload: Uint8Array,
): Promise<ReadBack> {
  await redis.hset(`${prefix}:schemas`, schema.id, Buffer.from(schema.bytes));
  const stream = `${prefix}:interop:stream`;
  await redis.xadd(stream, '*', 'schema_id', schema.id, 'type', schema.fullName, 'payload', Buffer.from(payload));

  const entries = await redis.xrangeBuffer(stream, '-', '+');
  if (entries.length !== 1) throw new Error(`expected one stream entry, found ${entries.length}`);
  const [, flat] = entries[0];
  const fields = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i].toString('utf8'), flat[i + 1]);
  const schemaId = fields.get('schema_id')?.toString('utf8');
  const type = fields.get('type')?.toString('utf8');
  const body = fields.get('payload');
  if (!schemaId || !type || !body) throw new Error('the stream entry lacks schema_id, type or payload');

  const schemaBytes = await redis.hgetBuffer(`${prefix}:schemas`, schemaId);
  if (!schemaBytes) throw new Error(`schema ${schemaId} is not in ${prefix}:schemas`);
  const digest = createHash('sha256').update(schemaBytes).digest('hex');
  if (!/^[0-9a-f]{16,64}$/.test(schemaId) || !digest.startsWith(schemaId)) {
    throw new Error(`schema id ${schemaId} is not a SHA-256 prefix of the stored bytes (${digest})`);
  }
  return { schemaId, type, payload: body, schemaBytes };
}
