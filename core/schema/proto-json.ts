import * as protobuf from 'protobufjs';
import * as descriptorExt from 'protobufjs/ext/descriptor';
import { toJson } from 'protobufjs/ext/protojson';
import { DecodeError, ErrorCode } from '../errors';
import { DEFAULT_CODEC_LIMITS } from './codec';
import { decodeFileDescriptor, TIMESTAMP_FILE, timestampFileDescriptor } from './descriptor';

/** How many schemas' reflected types a {@link ProtoJsonDecoder} keeps. */
const MAX_CACHED_ROOTS = 100;

/**
 * Decodes protobuf payloads into ProtoJSON (the canonical proto3 JSON mapping) using only a
 * stored `FileDescriptorProto`: no task or message class is needed, so any process with access to
 * the schema registry can show what a message holds.
 *
 * @remarks
 * The output is JSON-safe: 64-bit integers are decimal strings, `google.protobuf.Timestamp`s
 * (Weft's `Date` fields) are RFC 3339 strings, maps are objects, `bytes` are base64, enums are
 * value names, and fields at their default value are left out. Names are the fields' JSON names
 * (lowerCamelCase). A Weft map of lists appears as its wire shape, `{ "<key>": { "values": [...] } }`.
 *
 * Reflected types are built once per schema id and kept in a small cache. Payloads over
 * `maxPayloadBytes` (default 4 MiB, as for codecs) are refused without decoding.
 *
 * @example
 * ```ts
 * const schema = await registry.resolve(fields.schema_id);
 * const json = new ProtoJsonDecoder().decode(schema.id, schema.bytes, 'shop.Order', payload);
 * // { id: 'o-1', total: '9007199254740993', placedAt: '2024-01-02T03:04:05.678Z', ... }
 * ```
 */
export class ProtoJsonDecoder {
  private readonly roots = new Map<string, protobuf.Root>();

  constructor(private readonly maxPayloadBytes = DEFAULT_CODEC_LIMITS.maxPayloadBytes) {}

  /**
   * The payload as ProtoJSON.
   * @param schemaId - Cache key: the id of `fileBytes`.
   * @param fileBytes - The serialized `FileDescriptorProto` that defines `typeName`.
   * @param typeName - The fully-qualified root message name (the wire `type` field).
   * @throws DecodeError (`WEFT_DECODE_ERROR`) for a descriptor that does not load, a type it does
   *   not define, or bytes that are not a message of the type; `WEFT_PAYLOAD_TOO_LARGE` over the limit.
   */
  decode(schemaId: string, fileBytes: Uint8Array, typeName: string, payload: Uint8Array): unknown {
    if (payload.length > this.maxPayloadBytes) {
      throw new DecodeError(`the payload is ${payload.length} bytes, over maxPayloadBytes ${this.maxPayloadBytes}`,
        { code: ErrorCode.PAYLOAD_TOO_LARGE });
    }
    const root = this.root(schemaId, fileBytes);
    let type: protobuf.Type;
    try {
      type = root.lookupType(typeName.replace(/^\./, ''));
    } catch (e) {
      throw new DecodeError(`schema ${schemaId} defines no message ${typeName}`, { cause: e });
    }
    try {
      return toJson(type, type.decode(payload)) as unknown;
    } catch (e) {
      throw new DecodeError(`the payload is not a valid ${typeName}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  private root(schemaId: string, fileBytes: Uint8Array): protobuf.Root {
    const hit = this.roots.get(schemaId);
    if (hit) return hit;
    let root: protobuf.Root;
    try {
      const file = decodeFileDescriptor(fileBytes);
      const deps = (file.dependency ?? []) as string[];
      const files = deps.includes(TIMESTAMP_FILE) ? [timestampFileDescriptor(), file] : [file];
      const set = descriptorExt.FileDescriptorSet.fromObject({ file: files });
      root = (protobuf.Root as unknown as { fromDescriptor(s: unknown): protobuf.Root }).fromDescriptor(set);
      root.resolveAll();
    } catch (e) {
      throw new DecodeError(`schema ${schemaId} does not load as a self-contained FileDescriptorProto: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (this.roots.size >= MAX_CACHED_ROOTS) this.roots.delete(this.roots.keys().next().value as string);
    this.roots.set(schemaId, root);
    return root;
  }
}
