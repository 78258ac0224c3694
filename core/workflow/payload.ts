import { Reader, Writer } from 'protobufjs/minimal';
import { DecodeError } from '../errors';

/**
 * Byte-level protobuf helpers for fan-out and fan-in. The orchestrator never decodes step outputs
 * into objects: a repeated message field is a sequence of length-delimited records with the same
 * field number, so an element's bytes are a complete encoding of the element message, and a list
 * is built by concatenating records. Compatibility is checked once, at registration.
 *
 * @packageDocumentation
 */

/** Most elements a fan-out may have (bounded memory in the orchestrator and the store). */
export const MAX_FAN_OUT = 10_000;

/**
 * The encoded elements of the repeated message field `fieldNumber` of an encoded message, in order.
 *
 * @throws DecodeError for bytes that do not parse, a field of that number with another wire type,
 *   or more than {@link MAX_FAN_OUT} elements.
 */
export function repeatedElements(bytes: Uint8Array, fieldNumber: number): Buffer[] {
  const reader = Reader.create(bytes);
  const out: Buffer[] = [];
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const wireType = tag & 7;
      if (tag >>> 3 === fieldNumber) {
        if (wireType !== 2) throw new DecodeError(`field ${fieldNumber} has wire type ${wireType}, not a length-delimited message`);
        const b = reader.bytes();
        out.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
        if (out.length > MAX_FAN_OUT) throw new DecodeError(`field ${fieldNumber} has more than ${MAX_FAN_OUT} elements; split the work into smaller batches`);
      } else {
        reader.skipType(wireType);
      }
    }
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError(`cannot read field ${fieldNumber} of a step output: ${(e as Error).message}`, { cause: e });
  }
  return out;
}

/** An encoded message whose only field is the repeated message field `fieldNumber` holding `items`. */
export function repeatedField(fieldNumber: number, items: readonly Uint8Array[]): Buffer {
  const w = Writer.create();
  for (const item of items) w.uint32(((fieldNumber << 3) | 2) >>> 0).bytes(item);
  const b = w.finish();
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
