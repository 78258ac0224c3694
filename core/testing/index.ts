/**
 * Conformance suites that plugin authors run against their own plugins. Passing a suite is what
 * "a working port implementation" means.
 *
 * - {@link transportConformance}: a `Transport` on its own.
 * - {@link dispatchStoreConformance}: a `DispatchStore` on its own.
 * - {@link eventLogConformance}: an `EventLog` (event streams with independent readers) on its own.
 * - {@link dispatchParity}: a whole backend (transport, stores, ledger) under the runtime: durable
 *   dispatch behaves as on every other transport (duplicates, crash replay, retry exhaustion,
 *   deadlines, wire metadata).
 *
 * @example
 * ```ts
 * import { dispatchParity, transportConformance } from 'weft/core/testing';
 * import { Weft } from 'weft/core/runtime/weft';
 * import { MyTransport, myPlugin } from '../src';
 *
 * transportConformance('MyTransport', async () => {
 *   const transport = new MyTransport({ url: process.env.MY_URL });
 *   await transport.init();
 *   return { transport, cleanup: () => transport.close() };
 * });
 *
 * dispatchParity('my plugin', async () => {
 *   const producer = await Weft.create({ plugins: [myPlugin({ url: process.env.MY_URL })], config: { logLevel: 'silent' } });
 *   const worker = await Weft.create({ plugins: [myPlugin({ url: process.env.MY_URL })], config: { logLevel: 'silent' } });
 *   return { producer, worker, cleanup: async () => { await worker.close(); await producer.close(); } };
 * });
 * ```
 *
 * @packageDocumentation
 */
export { transportConformance } from './transport-conformance';
export type { TransportConformanceOptions, TransportFactory, TransportFixture } from './transport-conformance';
export { dispatchStoreConformance } from './dispatch-store-conformance';
export type {
  DispatchStoreConformanceOptions, DispatchStoreFactory, DispatchStoreFixture,
} from './dispatch-store-conformance';
export { dispatchParity, ParityJob, ParityOutcome, PARITY_WIRE_FIELDS, PARITY_PINNED_IDENTITY } from './dispatch-parity';
export type { DispatchParityOptions, ParityBackend, ParityBackendFactory } from './dispatch-parity';
export { eventLogConformance } from './event-log-conformance';
export type { EventLogConformanceOptions, EventLogFactory, EventLogFixture } from './event-log-conformance';
export { workflowStoreConformance } from './workflow-store-conformance';
export type { WorkflowStoreFactory, WorkflowStoreFixture } from './workflow-store-conformance';
