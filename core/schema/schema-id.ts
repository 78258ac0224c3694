import { createHash } from 'node:crypto';

/** Hex digits of SHA-256 kept in a schema id (128 bits). The wire contract allows 16 or more. */
export const SCHEMA_ID_HEX_LENGTH = 32;

/**
 * The schema id of serialized `FileDescriptorProto` bytes: the first 32 lowercase hex digits of
 * SHA-256 over exactly those bytes. Any consumer can recompute it to detect a corrupt schema.
 */
export function schemaIdOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, SCHEMA_ID_HEX_LENGTH);
}

/** True for a well-formed schema id (lowercase hex, 16 to 64 digits). */
export function isSchemaId(id: unknown): id is string {
  return typeof id === 'string' && /^[0-9a-f]{16,64}$/.test(id);
}

/** True when `bytes` hash to `id` (compares on the id's own length, so shorter ids from other writers verify too). */
export function verifySchemaId(id: string, bytes: Uint8Array): boolean {
  return isSchemaId(id) && createHash('sha256').update(bytes).digest('hex').startsWith(id);
}
