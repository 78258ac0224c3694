import { DecoratorError, DecoratorErrorCode } from './errors';
import { hasReflectMetadata, readParamTypes } from './keys';
import { getMetadataStorage, taskRef } from './storage';
import { Ctor, TaskClass, TaskOptions, TaskRecord } from './types';

/** Error codes raised by `@Task` when it is misused. */
export const TaskDecoratorErrorCode = {
  TASK_NAME_INVALID: 'WEFT_TASK_NAME_INVALID',
  TASK_NAME_CONFLICT: 'WEFT_TASK_NAME_CONFLICT',
  TASK_VERSION_INVALID: 'WEFT_TASK_VERSION_INVALID',
  TASK_QUEUE_INVALID: 'WEFT_TASK_QUEUE_INVALID',
  TASK_OUTPUT_MISSING: 'WEFT_TASK_OUTPUT_MISSING',
  TASK_INPUT_UNINFERRABLE: 'WEFT_TASK_INPUT_UNINFERRABLE',
  TASK_RUN_MISSING: 'WEFT_TASK_RUN_MISSING',
  TASK_OPTIONS_INVALID: 'WEFT_TASK_OPTIONS_INVALID',
  RUN_DECORATOR_MISPLACED: 'WEFT_RUN_DECORATOR_MISPLACED',
} as const;

const C = TaskDecoratorErrorCode;

/** Dot-separated identifiers, the same rule as an `@Output` full name: `etl.extract`. */
const TASK_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
/** Queue names end up inside Redis keys and hash tags: no braces, no colons, no spaces. */
const QUEUE_RE = /^[A-Za-z0-9_.-]+$/;
/** A queue name longer than this is almost certainly a mistake (and bloats every key). */
export const MAX_QUEUE_NAME_LENGTH = 200;
/** The queue a task goes to when `@Task` names none. */
export const DEFAULT_QUEUE = 'default';

/** Parameter types that say nothing about a message class (interfaces, primitives, `any`). */
const NOT_A_CLASS: ReadonlySet<unknown> = new Set<unknown>([Object, String, Number, Boolean, BigInt, Symbol, Array, Function, Promise]);

function isCtor(x: unknown): x is Ctor {
  return typeof x === 'function';
}

function fail(code: string, className: string, message: string): never {
  throw new DecoratorError(code, className, undefined, message);
}

/**
 * Checks a queue name and returns it, or throws a coded error naming the class.
 * @internal
 */
export function assertQueueName(queue: unknown, className: string): string {
  if (typeof queue !== 'string' || !QUEUE_RE.test(queue) || queue.length > MAX_QUEUE_NAME_LENGTH) {
    fail(C.TASK_QUEUE_INVALID, className,
      `queue ${JSON.stringify(queue)} is not a valid queue name. Use 1 to ${MAX_QUEUE_NAME_LENGTH} letters, digits, ` +
      "'_', '.' or '-' (no braces or colons: the name is used inside Redis Cluster hash tags), e.g. 'etl'.");
  }
  return queue;
}

function optionalInteger(value: unknown, min: number, what: string, className: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(C.TASK_OPTIONS_INVALID, className,
      `${what} must be an integer of at least ${min}, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function inferInput(target: Ctor, className: string, name: string, explicit: unknown): unknown {
  if (explicit !== undefined) {
    if (typeof explicit !== 'function') {
      fail(C.TASK_OPTIONS_INVALID, className,
        `task '${name}': 'input' must be a function returning the input class, e.g. input: () => ExtractRequest.`);
    }
    return undefined;
  }
  const designType = readParamTypes(target.prototype as object, 'run')?.[0];
  if (designType === undefined) {
    if (!hasReflectMetadata()) {
      fail(DecoratorErrorCode.REFLECT_METADATA_MISSING, className,
        `task '${name}': its input type cannot be inferred because reflect-metadata is not loaded. Add ` +
        "`import 'reflect-metadata'` at the top of your entry file, or give it explicitly: input: () => MyInput.");
    }
    fail(C.TASK_INPUT_UNINFERRABLE, className,
      `task '${name}': its input type cannot be inferred. TypeScript emits run's parameter types only when run ` +
      "itself carries a decorator (and only under emitDecoratorMetadata; esbuild and tsx drop them). Put @Run() on " +
      'the run method, or give the type explicitly: input: () => MyInput.');
  }
  if (!isCtor(designType) || NOT_A_CLASS.has(designType)) {
    fail(C.TASK_INPUT_UNINFERRABLE, className,
      `task '${name}': run's first parameter is not declared as a class (it is an interface, a primitive or any), ` +
      'so the input message cannot be inferred. Declare it as an @Output class, or give it explicitly: input: () => MyInput.');
  }
  return designType;
}

/**
 * Marks the `run` method of a task so that TypeScript emits its parameter types, from which
 * `@Task` infers the input class. It records nothing itself.
 *
 * @remarks
 * Needed only when `@Task` has no `input` option. Compilers that drop `emitDecoratorMetadata`
 * (esbuild, tsx, Vite, Bun) emit nothing even then: prefer `input: () => MyInput` there.
 *
 * @example
 * ```ts
 * @Task('etl.extract', { output: () => ExtractedRows })
 * class Extract {
 *   @Run()
 *   async run(input: ExtractRequest): Promise<ExtractedRows> { ... }
 * }
 * ```
 */
export function Run(): MethodDecorator {
  return (prototype, key) => {
    if (key !== 'run' || typeof prototype === 'function') {
      const target = (typeof prototype === 'function' ? prototype : prototype.constructor) as Ctor;
      fail(C.RUN_DECORATOR_MISPLACED, target.name || '<anonymous class>',
        `@Run() belongs on the instance method 'run', not on '${String(key)}'.`);
    }
  };
}

/**
 * Marks a class as a task: something a worker can run from a message.
 *
 * @param name - The stable wire name, dot-separated identifiers such as `'etl.extract'`. Together
 *   with the version (`etl.extract@1`) it is what travels on the wire; it is never taken from
 *   `constructor.name`, which minifiers rename.
 * @param options - `output` (required), and optionally `input`, `version` (default 1), `queue`
 *   (default `'default'`), `retries` and `timeoutMs`. See {@link TaskOptions}.
 *
 * @remarks
 * The class must have a `run(input, ctx)` method. The input class comes from `options.input`, or
 * else from `run`'s first parameter type (decorate `run` with {@link Run} so that TypeScript emits
 * it). Both input and output must be `@Output` classes; that is checked when core first builds the
 * task's definition (`taskDefinitionOf`), because the thunks are lazy. Everything else is checked
 * here, when the decorator runs, with a coded {@link DecoratorError}.
 *
 * @example
 * ```ts
 * @Task('etl.extract', { queue: 'etl', output: () => ExtractedRows, retries: 3 })
 * class Extract {
 *   constructor(@inject(Db) private readonly db: Db) {}
 *   @Run()
 *   async run(input: ExtractRequest, ctx: TaskContext): Promise<ExtractedRows> { ... }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function Task<O, I = any>(name: string, options: TaskOptions<I, O>): <T extends TaskClass<I, O>>(target: T) => void {
  return (target) => {
    const ctor = target as unknown as Ctor;
    const className = ctor.name || '<anonymous class>';
    if (typeof name !== 'string' || !TASK_NAME_RE.test(name)) {
      fail(C.TASK_NAME_INVALID, className,
        `task name ${JSON.stringify(name)} is not valid. Use dot-separated identifiers such as 'etl.extract'.`);
    }
    const opts = (typeof options === 'object' && options !== null ? options : {}) as Partial<TaskOptions<I, O>>;
    if (typeof opts.output !== 'function') {
      fail(C.TASK_OUTPUT_MISSING, className,
        `task '${name}' declares no output type. Promise<T> erases T at runtime, so the output class cannot be ` +
        'inferred from run: give it explicitly, e.g. @Task(name, { output: () => MyOutput }).');
    }
    const version: unknown = opts.version === undefined ? 1 : opts.version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
      fail(C.TASK_VERSION_INVALID, className,
        `task '${name}': version ${JSON.stringify(version)} is not a positive integer. Versions are 1, 2, 3...`);
    }
    const queue = assertQueueName(opts.queue === undefined ? DEFAULT_QUEUE : opts.queue, className);
    const retries = optionalInteger(opts.retries, 0, `task '${name}': retries`, className);
    const timeoutMs = optionalInteger(opts.timeoutMs, 1, `task '${name}': timeoutMs`, className);
    const run = (ctor.prototype as { run?: unknown } | undefined)?.run;
    if (typeof run !== 'function') {
      fail(C.TASK_RUN_MISSING, className,
        `task '${name}' has no run method. A task class needs an instance method run(input, ctx).`);
    }
    const inputDesignType = inferInput(ctor, className, name, opts.input);

    const storage = getMetadataStorage();
    const existing = storage.taskByName(name, version);
    if (existing && existing.target !== ctor) {
      fail(C.TASK_NAME_CONFLICT, className,
        `task '${taskRef(name, version)}' is already declared by class ${existing.target.name}. ` +
        'Each task class needs its own name, or its own version of a name.');
    }
    const record: TaskRecord = {
      target: ctor, name, version, queue,
      input: opts.input as (() => Ctor) | undefined,
      output: opts.output as () => Ctor,
      inputDesignType,
      retries,
      timeoutMs,
    };
    storage.collectTask(record);
  };
}
