/**
 * Tasks: definitions built from `@Task` classes, the wire envelope, and the resolvers that turn a
 * message's `task` reference back into code.
 *
 * @example
 * ```ts
 * import { ResolverRegistry, RegistryTaskResolver, taskDefinitionOf } from 'weft/core/tasks';
 *
 * const def = taskDefinitionOf(Extract);                 // name, version, queue, input/output schemas
 * const resolvers = new ResolverRegistry([new RegistryTaskResolver({ tasks: [Extract] })]);
 * const address = resolvers.serialize(Extract);          // { resolverId: 'default', strategy: 'registry', task: 'etl.extract@1' }
 * resolvers.resolve(address).ctor === Extract;           // true
 * ```
 */
export { taskDefinitionOf, isTaskClass } from './definition';
export type { TaskDefinition, TaskRunOptions } from './definition';
export {
  RegistryTaskResolver, ModuleTaskResolver, ResolverRegistry,
  DEFAULT_RESOLVER_ID, DEFAULT_MODULE_RESOLVER_ID, MAX_MODULE_REF_LENGTH,
} from './resolver';
export type { TaskResolver, SerializedTask, TaskAddress, ModuleTaskResolverOptions } from './resolver';
export {
  TaskErrorCode, TaskDefinitionError, TaskUnknownError, ResolverConfigError, ResolverError, ModuleTaskError,
} from './errors';
export type { TaskErrorCodeValue } from './errors';
export { WireField, EnvelopeError, toFields, fromFields } from './wire';
export type { TaskStrategy, TaskEnvelope } from './wire';
