import type { EventReadOptions } from './event-log';

/**
 * Read options with an `AbortSignal`: an {@link EventLog} may honour `signal` by ending a blocking
 * read early with `[]` when it fires (the memory and Redis logs do). A log that ignores it simply
 * returns when `blockMs` runs out, so callers must not depend on it for correctness, only for
 * promptness. Subscriptions pass one, so that breaking out of `for await` ends the read at once.
 */
export interface AbortableReadOptions extends EventReadOptions {
  readonly signal?: AbortSignal;
}
