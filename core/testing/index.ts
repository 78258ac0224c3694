/**
 * Conformance suites that plugin authors run against their own plugins. Passing a suite is what
 * "a working port implementation" means.
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
