import { randomBytes } from 'node:crypto';

/**
 * Cheap unique ids for the hot path: a random per-process prefix plus a counter. Unique across
 * processes (64 random bits per process) without a crypto call per task.
 */
const PROCESS_PREFIX = randomBytes(8).toString('hex');
let counter = 0;

/** A new execution id: 16 random hex digits of this process, then a counter. */
export function nextId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return PROCESS_PREFIX + counter.toString(16).padStart(8, '0');
}

/**
 * A new W3C `traceparent` (version 00, sampled). The trace id is the process prefix and a counter
 * (unique, 128 bits); the span id is the counter.
 */
export function newTraceparent(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  const c = counter.toString(16).padStart(16, '0');
  return `00-${PROCESS_PREFIX}${c}-${c}-01`;
}

/**
 * The `traceparent` of a child span: the parent's trace id (a new trace when `parent` is not a
 * version-00 traceparent), a new span id.
 */
export function childTraceparent(parent: string): string {
  const m = /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(parent);
  if (!m) return newTraceparent();
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  // 32 random bits of this process, then a counter: unique enough within one trace.
  return `00-${m[1]}-${PROCESS_PREFIX.slice(0, 8)}${(counter % 0x100000000).toString(16).padStart(8, '0')}-${m[2]}`;
}
