/**
 * Key names and Redis Cluster slot arithmetic of the Redis Streams transport.
 *
 * @packageDocumentation
 */

/**
 * The stream key of a queue: `<prefix>:{<queue>}:stream`. The `{<queue>}` hash tag puts every key
 * of one queue in the same Redis Cluster slot.
 */
export function streamKey(prefix: string, queue: string): string {
  return `${prefix}:{${queue}}:stream`;
}

/** The dead-letter stream key of a queue: `<prefix>:{<queue>}:dlq` (same slot as its stream). */
export function deadLetterKey(prefix: string, queue: string): string {
  return `${prefix}:{${queue}}:dlq`;
}

/* CRC16-CCITT (XMODEM), the checksum Redis Cluster uses for key slots. */
const CRC_TABLE: Uint16Array = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

function crc16(bytes: Buffer): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * The Redis Cluster slot (0..16383) of a key, honouring `{hash tags}`: when the key holds a `{`
 * followed later by a `}` with at least one byte between them, only those bytes are hashed.
 */
export function keySlot(key: string): number {
  const b = Buffer.from(key, 'utf8');
  const open = b.indexOf(0x7b);
  if (open !== -1) {
    const close = b.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(b.subarray(open + 1, close)) & 16383;
  }
  return crc16(b) & 16383;
}
