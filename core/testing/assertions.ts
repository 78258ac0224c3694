/**
 * Small helpers the conformance suites share. Internal to `core/testing`.
 *
 * @packageDocumentation
 */
import assert from 'node:assert/strict';

/** The rejection of `p`; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected a rejection');
}

/** A field value as text: strings as they are, Buffers as UTF-8. */
export function text(v: string | Buffer | undefined): string | undefined {
  return v === undefined || typeof v === 'string' ? v : v.toString('utf8');
}
