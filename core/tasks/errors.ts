import { WeftError } from '../errors';

/**
 * Error codes raised while turning task classes into definitions and wire references back into
 * tasks. Callers (the worker, above all) branch on these: every one of them means "this message
 * cannot run here", and the worker dead-letters it with the code as the reason.
 */
export const TaskErrorCode = {
  /** A class given as a task has no `@Task` decorator. */
  TASK_NOT_DECORATED: 'WEFT_TASK_NOT_DECORATED',
  /** A task's input class is missing or is not an `@Output` class. */
  TASK_INPUT_INVALID: 'WEFT_TASK_INPUT_INVALID',
  /** A task's output class is missing or is not an `@Output` class. */
  TASK_OUTPUT_INVALID: 'WEFT_TASK_OUTPUT_INVALID',
  /** No task is known under the reference a message names. */
  TASK_UNKNOWN: 'WEFT_TASK_UNKNOWN',
  /** Two different classes claim the same `name@version` in one resolver. */
  TASK_DUPLICATE: 'WEFT_TASK_DUPLICATE',
  /** A `task` reference is malformed for its strategy. */
  TASK_REF_INVALID: 'WEFT_TASK_REF_INVALID',
  /** No resolver is registered under the message's resolver id. */
  RESOLVER_UNKNOWN: 'WEFT_RESOLVER_UNKNOWN',
  /** Two resolvers were registered under one id. */
  RESOLVER_DUPLICATE: 'WEFT_RESOLVER_DUPLICATE',
  /** A resolver was configured with something unusable (e.g. a root that does not exist). */
  RESOLVER_CONFIG_INVALID: 'WEFT_RESOLVER_CONFIG_INVALID',
  /** The message's strategy is not the one its resolver implements. */
  STRATEGY_MISMATCH: 'WEFT_STRATEGY_MISMATCH',
  /** A `module` reference points outside the allowlist. Nothing was loaded. */
  MODULE_NOT_ALLOWED: 'WEFT_MODULE_NOT_ALLOWED',
  /** A `module` reference is allowed but no such module exists under the allowlisted roots. */
  MODULE_NOT_FOUND: 'WEFT_MODULE_NOT_FOUND',
  /** An allowlisted module threw while loading. */
  MODULE_LOAD_FAILED: 'WEFT_MODULE_LOAD_FAILED',
  /** An allowlisted module loaded, but the named export is missing or is not a `@Task` class. */
  MODULE_EXPORT_INVALID: 'WEFT_MODULE_EXPORT_INVALID',
} as const;

/** One of the {@link TaskErrorCode} values. */
export type TaskErrorCodeValue = (typeof TaskErrorCode)[keyof typeof TaskErrorCode];

/** The longest piece of a wire string quoted back in an error message. */
const MAX_QUOTED = 200;

/**
 * Quotes a string that came off the wire for an error message: JSON-escaped (so it cannot forge
 * log lines) and truncated.
 * @internal
 */
export function quoteWire(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  return JSON.stringify(s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}…` : s);
}

/**
 * A task class cannot be turned into a definition: it is not decorated with `@Task`, or its input
 * or output class is not an `@Output` class.
 *
 * @example
 * ```ts
 * try { taskDefinitionOf(Extract); }
 * catch (e) { if (e instanceof TaskDefinitionError) console.error(e.code, e.taskName); }
 * ```
 */
export class TaskDefinitionError extends WeftError {
  constructor(
    code: TaskErrorCodeValue,
    /** The task's wire name (or the class name when it has none). */
    readonly taskName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, `task ${taskName}: ${message}`, options);
  }
}

/**
 * A message names a task that its resolver does not know, or names it in a malformed way
 * (`WEFT_TASK_UNKNOWN`, `WEFT_TASK_REF_INVALID`).
 *
 * @example
 * ```ts
 * if (err instanceof TaskUnknownError) deadLetter(entry, err.code, err.message);
 * ```
 */
export class TaskUnknownError extends WeftError {
  constructor(
    /** The `task` field as received. */
    readonly task: string,
    message: string,
    options?: { cause?: unknown; code?: TaskErrorCodeValue },
  ) {
    super(options?.code ?? TaskErrorCode.TASK_UNKNOWN, message, options);
  }
}

/**
 * Resolvers or tasks were registered inconsistently: a duplicate resolver id, two classes under
 * one `name@version`, or an unusable resolver configuration. Raised at startup, never per message.
 *
 * @example
 * ```ts
 * new ResolverRegistry([a, b]); // throws ResolverConfigError WEFT_RESOLVER_DUPLICATE if a.id === b.id
 * ```
 */
export class ResolverConfigError extends WeftError {
  constructor(code: TaskErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * A message cannot be routed to a resolver: its resolver id is not registered
 * (`WEFT_RESOLVER_UNKNOWN`) or the resolver implements another strategy (`WEFT_STRATEGY_MISMATCH`).
 *
 * @example
 * ```ts
 * if (err instanceof ResolverError && err.code === 'WEFT_RESOLVER_UNKNOWN') { ... }
 * ```
 */
export class ResolverError extends WeftError {
  constructor(
    code: TaskErrorCodeValue,
    /** The resolver id the message asked for. */
    readonly resolverId: string,
    message: string,
  ) {
    super(code, message);
  }
}

/**
 * A `module` strategy reference was refused or could not be loaded. For `WEFT_MODULE_NOT_ALLOWED`
 * nothing was loaded and no file outside the allowlist was executed.
 *
 * @example
 * ```ts
 * if (err instanceof ModuleTaskError && err.code === 'WEFT_MODULE_NOT_ALLOWED') alertOperator(err);
 * ```
 */
export class ModuleTaskError extends WeftError {
  constructor(
    code: TaskErrorCodeValue,
    /** The `task` field as received (`specifier#exportName`). */
    readonly task: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
