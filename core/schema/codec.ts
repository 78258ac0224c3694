import { Reader, Writer } from 'protobufjs/minimal';
import { DecodeError, EncodeError, ErrorCode, ValidationError, WeftError } from '../errors';
import { compileGraph, CompiledGraph } from './codegen';
import type { MessageModel } from './model';
import { buildGraphValidator, GraphValidator } from './validate';

/** Limits that bound what a codec accepts. */
export interface CodecLimits {
  /** Largest payload accepted by `decode` and produced by `encode`. Default 4 MiB. */
  readonly maxPayloadBytes: number;
  /** Deepest message nesting accepted (including unknown groups). Default 64. */
  readonly maxDepth: number;
}

/** Codec options. */
export interface CodecOptions extends Partial<CodecLimits> {
  /** Run class-validator constraints on encode and decode. Default `true`. */
  readonly validate?: boolean;
}

/** The defaults applied when an option is not given. */
export const DEFAULT_CODEC_LIMITS: CodecLimits = Object.freeze({ maxPayloadBytes: 4 * 1024 * 1024, maxDepth: 64 });

/**
 * Encodes instances of one message class to protobuf bytes and decodes bytes back into instances.
 *
 * @remarks
 * Obtain one from `schemaOf(Class).codec` (or `codecFor`), which compiles it once per class.
 * `decode` only ever throws {@link DecodeError} (code `WEFT_DECODE_ERROR` or
 * `WEFT_PAYLOAD_TOO_LARGE`) or, for constraint failures, {@link ValidationError}; hostile bytes
 * cannot crash, hang or exhaust memory.
 *
 * @example
 * ```ts
 * const codec = schemaOf(Order).codec;
 * const bytes = codec.encode(order);
 * const copy = codec.decode(bytes); // copy instanceof Order
 * ```
 */
export class MessageCodec<T = unknown> {
  readonly limits: CodecLimits;
  private readonly graph: CompiledGraph;
  private readonly validator?: GraphValidator;

  constructor(readonly model: MessageModel, options: CodecOptions = {}) {
    this.limits = {
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_CODEC_LIMITS.maxPayloadBytes,
      maxDepth: options.maxDepth ?? DEFAULT_CODEC_LIMITS.maxDepth,
    };
    this.graph = compileGraph(model, this.limits.maxDepth);
    this.validator = options.validate === false ? undefined : buildGraphValidator(model, this.limits.maxDepth);
  }

  /**
   * Encodes a value (an instance of the class, or a plain object of the same shape).
   * @throws ValidationError when class-validator constraints fail; EncodeError for a value of the wrong
   *   JS type or a payload over `maxPayloadBytes`.
   */
  encode(value: T): Uint8Array {
    if (value === null || typeof value !== 'object') throw new EncodeError('', `expected an instance of ${this.model.fullName}`);
    if (this.validator) {
      const violations = this.validator(value);
      if (violations.length) throw new ValidationError(this.model.fullName, 'encode', violations);
    }
    const w = Writer.create();
    this.graph.encode(value, w, 0);
    const bytes = w.finish();
    if (bytes.length > this.limits.maxPayloadBytes) {
      throw new EncodeError('', `the encoded ${this.model.fullName} is ${bytes.length} bytes, over maxPayloadBytes ` +
        `${this.limits.maxPayloadBytes}. Store large data elsewhere and send a reference, or raise the limit.`,
        { code: ErrorCode.PAYLOAD_TOO_LARGE });
    }
    return bytes;
  }

  /**
   * Decodes bytes into an instance of the class.
   * @throws DecodeError for anything malformed or over the limits; ValidationError when constraints fail.
   */
  decode(bytes: Uint8Array): T {
    if (!(bytes instanceof Uint8Array)) throw new DecodeError(`expected a Uint8Array payload, got ${typeof bytes}`);
    if (bytes.length > this.limits.maxPayloadBytes) {
      throw new DecodeError(`payload of ${bytes.length} bytes exceeds maxPayloadBytes ${this.limits.maxPayloadBytes}`,
        { code: ErrorCode.PAYLOAD_TOO_LARGE });
    }
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let value: T;
    try {
      const r = Reader.create(buf);
      value = this.graph.decode(r, buf.length, 0) as T;
      if (r.pos !== buf.length) throw new DecodeError('trailing bytes after the message');
    } catch (e) {
      if (e instanceof WeftError) throw e;
      throw new DecodeError(`malformed ${this.model.fullName} payload: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
    if (this.validator) {
      const violations = this.validator(value);
      if (violations.length) throw new ValidationError(this.model.fullName, 'decode', violations);
    }
    return value;
  }
}
