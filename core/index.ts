/**
 * Weft core: schemas, codec, registry and errors.
 *
 * @example
 * ```ts
 * import 'reflect-metadata';
 * import { Field, Output } from 'weft/decorators';
 * import { schemaOf } from 'weft/core';
 *
 * @Output('shop.Ping')
 * class Ping { @Field(1) text!: string; }
 *
 * const { codec } = schemaOf(Ping);
 * const ping = codec.decode(codec.encode(Object.assign(new Ping(), { text: 'hi' })));
 * ```
 */
export { schemaOf, codecFor } from './schema/schema';
export type { Schema } from './schema/schema';
export { MessageCodec, DEFAULT_CODEC_LIMITS } from './schema/codec';
export type { CodecLimits, CodecOptions } from './schema/codec';
export { schemaIdOf, verifySchemaId, isSchemaId, SCHEMA_ID_HEX_LENGTH } from './schema/schema-id';
export { buildMessageModel } from './schema/build-model';
export { buildFileDescriptor, encodeFileDescriptor, decodeFileDescriptor } from './schema/descriptor';
export { checkCompatibility } from './schema/compat';
export type { CompatibilityMode, SubjectVersion } from './schema/compat';
export {
  WeftError, DecoratorError, DecoratorErrorCode, ErrorCode, EncodeError, DecodeError, ValidationError,
  SchemaNotFoundError, SchemaCorruptError, SchemaIncompatibleError, SchemaInvalidError,
} from './errors';
export type { Violation, CompatibilityIssue } from './errors';
export { SchemaRegistry, RegistryConflictError, COMPATIBILITY_MODES } from './registry/index';
export type {
  SchemaInput, RegisterResult, ResolvedSchema, SchemaRegistryOptions, SchemaStore, StoredVersion, AddVersionResult,
} from './registry/index';
export { Weft } from './runtime/weft';
export type { WeftOptions, WeftWorkerOptions } from './runtime/weft';
export { DeadLetters, DeadLetterNotFoundError, DEAD_LETTER_NOT_FOUND } from './runtime/dead-letters';
export type {
  DeadLettersDeps, DeadLetterSummary, DeadLetterDetail, InspectedPayload, ListDeadLettersOptions, ReplayOptions,
} from './runtime/dead-letters';
export { ProtoJsonDecoder } from './schema/proto-json';
export { Worker } from './runtime/worker';
export type { WorkerOptions } from './runtime/worker';
export { Client, TaskHandle } from './runtime/client';
export type { SubmitOptions, TaskStatus } from './runtime/client';
export type { TaskContext } from './runtime/context';
export { RemoteTaskError, ClientClosedError, RuntimeErrorCode } from './runtime/errors';
export { TransportError } from './runtime/transport';
export type {
  Transport, Delivery, Fields, DeadLetter, DeadLetterReason, DeadLettersOptions, ConsumeOptions, ReclaimOptions, Outgoing,
} from './runtime/transport';
export * from './tasks/index';
export * from './app/index';
export * from './dispatch/index';
export * from './events/index';
export { CancelledError } from './runtime/errors';
