/**
 * The memory plugin: embedded, single-process implementations of core's ports.
 *
 * @packageDocumentation
 */
export { MemorySchemaStore } from './schema-store';
export { MemoryTransport } from './transport';
export type { MemoryTransportOptions } from './transport';
export { memoryPlugin } from './plugin';
export type { MemoryPluginOptions } from './plugin';
export { MemoryDispatchStore } from './dispatch-store';
export { MemoryEventLog } from './event-log';
export type { MemoryEventLogOptions } from './event-log';
export { MemoryWorkflowStore, DEFAULT_MEMORY_WORKFLOW_RETENTION_MS, DEFAULT_MEMORY_WORKFLOW_MAX_FINISHED } from './workflow-store';
export type { MemoryWorkflowStoreOptions } from './workflow-store';
