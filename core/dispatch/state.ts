import { WeftError } from '../errors';
import { DispatchErrorCode } from './errors';
import { formatDispatchKey, type DispatchKey } from './key';

/**
 * The per-item dispatch states of seed 002.
 *
 * - `PENDING`: recorded, not yet handed to the transport.
 * - `SENT`: wire dispatch started; the item may be running.
 * - `ACKED`: the item succeeded and its result was committed. Terminal.
 * - `FAILED_RETRYABLE`: the last attempt failed with a retryable error; a redelivery is due.
 * - `FAILED_FINAL`: the item cannot succeed; it belongs in the dead-letter queue. Terminal.
 */
export const DispatchState = {
  PENDING: 'PENDING',
  SENT: 'SENT',
  ACKED: 'ACKED',
  FAILED_RETRYABLE: 'FAILED_RETRYABLE',
  FAILED_FINAL: 'FAILED_FINAL',
} as const;

/** One of the {@link DispatchState} values. */
export type DispatchState = (typeof DispatchState)[keyof typeof DispatchState];

/** Every state, in lifecycle order. */
export const DISPATCH_STATES: readonly DispatchState[] = Object.freeze([
  DispatchState.PENDING, DispatchState.SENT, DispatchState.ACKED, DispatchState.FAILED_RETRYABLE, DispatchState.FAILED_FINAL,
]);

/** The states a record never leaves: `ACKED` and `FAILED_FINAL`. */
export const TERMINAL_STATES: readonly DispatchState[] = Object.freeze([DispatchState.ACKED, DispatchState.FAILED_FINAL]);

/** The states recovery looks at: `PENDING`, `SENT` and `FAILED_RETRYABLE`. */
export const NON_TERMINAL_STATES: readonly DispatchState[] = Object.freeze([
  DispatchState.PENDING, DispatchState.SENT, DispatchState.FAILED_RETRYABLE,
]);

/** One allowed edge of the state machine and why it exists. */
export interface DispatchTransitionRule {
  readonly from: DispatchState;
  readonly to: DispatchState;
  /** When the runtime takes this edge. */
  readonly when: string;
  /** `seed-002` for the edges the seed lists, `weft` for the three Weft adds. */
  readonly source: 'seed-002' | 'weft';
}

/**
 * Every allowed transition. Anything not listed (including a state to itself, and any edge out
 * of `ACKED`) is illegal. `FAILED_FINAL` is left only by an operator's dead-letter replay; recovery
 * treats it as terminal. docs/dispatch.md shows the same table.
 */
export const DISPATCH_TRANSITIONS: readonly DispatchTransitionRule[] = Object.freeze([
  { from: 'PENDING', to: 'SENT', when: 'wire dispatch starts', source: 'seed-002' },
  { from: 'SENT', to: 'ACKED', when: 'the result is committed', source: 'seed-002' },
  { from: 'SENT', to: 'FAILED_RETRYABLE', when: 'the attempt failed with a retryable error', source: 'seed-002' },
  { from: 'SENT', to: 'FAILED_FINAL', when: 'the attempt failed with a non-retryable error, or it was the last attempt allowed', source: 'seed-002' },
  { from: 'FAILED_RETRYABLE', to: 'SENT', when: 'redelivery starts (retry attempt incremented)', source: 'seed-002' },
  { from: 'PENDING', to: 'FAILED_FINAL', when: 'the absolute deadline passed (or the item was refused) before anything was sent', source: 'weft' },
  { from: 'FAILED_RETRYABLE', to: 'FAILED_FINAL', when: 'retries are exhausted or the deadline passed before the redelivery', source: 'weft' },
  { from: 'FAILED_FINAL', to: 'SENT', when: 'an operator replays the dead letter (a new attempt of the same work)', source: 'weft' },
].map((r) => Object.freeze(r as DispatchTransitionRule)));

const ALLOWED: ReadonlySet<string> = new Set(DISPATCH_TRANSITIONS.map((r) => `${r.from}>${r.to}`));
const STATES: ReadonlySet<string> = new Set(DISPATCH_STATES);

/** True when `value` is one of the five {@link DispatchState} strings. */
export function isDispatchState(value: unknown): value is DispatchState {
  return typeof value === 'string' && STATES.has(value);
}

/** True for `ACKED` and `FAILED_FINAL`. */
export function isTerminalState(state: DispatchState): boolean {
  return state === DispatchState.ACKED || state === DispatchState.FAILED_FINAL;
}

/**
 * True when the state machine allows `from -> to` (see {@link DISPATCH_TRANSITIONS}). Pure; false
 * for anything that is not a state.
 */
export function canTransition(from: DispatchState, to: DispatchState): boolean {
  return isDispatchState(from) && isDispatchState(to) && ALLOWED.has(`${from}>${to}`);
}

/**
 * `from -> to` is not an edge of the dispatch state machine (`WEFT_DISPATCH_ILLEGAL_TRANSITION`).
 *
 * @remarks
 * This is a programming error in the caller, not a race: a lost compare-and-set is reported by
 * the store's `transition` result, never by this error.
 */
export class IllegalTransitionError extends WeftError {
  constructor(
    /** The record whose transition was refused, when known. */
    readonly key: DispatchKey | undefined,
    readonly from: string,
    readonly to: string,
  ) {
    super(DispatchErrorCode.ILLEGAL_TRANSITION,
      `illegal dispatch transition ${from} -> ${to}${key ? ` for record ${formatDispatchKey(key)}` : ''}. ` +
      `Allowed: ${DISPATCH_TRANSITIONS.map((r) => `${r.from} -> ${r.to}`).join(', ')}.`);
  }
}

/**
 * Throws {@link IllegalTransitionError} unless {@link canTransition}`(from, to)`.
 *
 * @param key - The record, named in the error message.
 */
export function assertTransition(from: DispatchState, to: DispatchState, key?: DispatchKey): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(key, String(from), String(to));
}
