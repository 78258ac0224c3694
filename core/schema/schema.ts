import type { Ctor } from '../../decorators/types';
import { buildMessageModel } from './build-model';
import { CodecOptions, MessageCodec } from './codec';
import { buildFileDescriptor, encodeFileDescriptor, FileDescriptorShape } from './descriptor';
import type { MessageModel } from './model';
import { schemaIdOf } from './schema-id';

/**
 * Everything Weft knows about one `@Output` class: its schema id, the canonical
 * `FileDescriptorProto` bytes stored in the registry, and its codec.
 */
export interface Schema<T = unknown> {
  /** The subject: the message's full name, e.g. `shop.Order`. Also the wire `type` field. */
  readonly fullName: string;
  /** Content-hash id (see {@link schemaIdOf}). */
  readonly id: string;
  /** Canonical serialized `FileDescriptorProto`. */
  readonly bytes: Uint8Array;
  /** The descriptor as a plain object. */
  readonly file: FileDescriptorShape;
  readonly model: MessageModel;
  /** The codec with default limits and validation on. */
  readonly codec: MessageCodec<T>;
}

const cache = new WeakMap<Ctor, Schema>();

/**
 * The schema of an `@Output` class, built on first use and cached for the life of the process.
 *
 * @throws DecoratorError when the class's declarations cannot make a valid schema.
 *
 * @example
 * ```ts
 * const s = schemaOf(Order);
 * console.log(s.id, s.fullName);          // 'a3f1…', 'shop.Order'
 * const back = s.codec.decode(s.codec.encode(order));
 * ```
 */
export function schemaOf<T>(ctor: Ctor<T>): Schema<T> {
  const hit = cache.get(ctor);
  if (hit) return hit as Schema<T>;
  const model = buildMessageModel(ctor);
  const file = buildFileDescriptor(model);
  const bytes = encodeFileDescriptor(file);
  const schema: Schema<T> = {
    fullName: model.fullName, id: schemaIdOf(bytes), bytes, file, model, codec: new MessageCodec<T>(model),
  };
  cache.set(ctor, schema);
  return schema;
}

/** A codec for a class with non-default limits or validation settings (compiled anew on each call: keep it). */
export function codecFor<T>(ctor: Ctor<T>, options: CodecOptions): MessageCodec<T> {
  return new MessageCodec<T>(schemaOf(ctor).model, options);
}
