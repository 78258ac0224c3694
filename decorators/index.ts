/**
 * Weft's decorators: they record metadata and do nothing else.
 *
 * @example
 * ```ts
 * import 'reflect-metadata';
 * import { Output, Field } from 'weft/decorators';
 *
 * @Output('shop.LineItem')
 * class LineItem {
 *   @Field(1) sku!: string;
 *   @Field(2, 'uint32') quantity!: number;
 * }
 * ```
 */
export { Output } from './output';
export { Field, MAX_FIELD_NUMBER, RESERVED_FIELD_NUMBERS } from './field';
export { registerEnum } from './enum';
export { WeftError, DecoratorError, DecoratorErrorCode } from './errors';
export { getMetadataStorage, MetadataStorage } from './storage';
export { MetadataKeys } from './keys';
export { SCALAR_TYPES } from './types';
export type {
  Ref, ScalarType, MapKeyType, TypeRef, TypeShape, TypeSpec, FieldOptions, Ctor, EnumObject,
  FieldRecord, MessageRecord, EnumRecord,
} from './types';
export { Task, Run, TaskDecoratorErrorCode, DEFAULT_QUEUE, MAX_QUEUE_NAME_LENGTH } from './task';
export { taskRef } from './storage';
export type { TaskClass, TaskInstance, TaskInput, TaskOutput, TaskOptions, TaskRecord } from './types';
