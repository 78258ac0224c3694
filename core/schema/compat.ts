/*
 * PLACEHOLDER owned by the compatibility helper; the signature below is the agreed contract.
 */
import type { CompatibilityIssue } from '../errors';

/** Confluent Schema Registry compatibility modes, judged on protobuf wire compatibility. */
export type CompatibilityMode =
  | 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE' | 'NONE';

/** One registered version of a subject. */
export interface SubjectVersion { readonly version: number; readonly id: string; readonly bytes: Uint8Array }

/**
 * Checks a candidate schema (serialized FileDescriptorProto whose root message is `subject`)
 * against a subject's history (ascending versions), under `mode`. Returns every issue; empty = compatible.
 */
export function checkCompatibility(
  subject: string, candidate: Uint8Array, history: readonly SubjectVersion[], mode: CompatibilityMode,
): CompatibilityIssue[] {
  void subject; void candidate; void history; void mode;
  return [];
}
