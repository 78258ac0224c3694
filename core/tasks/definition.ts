import { getMetadataStorage, taskRef } from '../../decorators/storage';
import type { Ctor, TaskClass, TaskInput, TaskOutput, TaskRecord } from '../../decorators/types';
import { schemaOf, Schema } from '../schema/schema';
import { TaskDefinitionError, TaskErrorCode } from './errors';

/** The runtime options `@Task` recorded; the runtime applies them. */
export interface TaskRunOptions {
  /** Retries of a retryable failure; `undefined` means the runtime's default. */
  readonly retries?: number;
  /** The time one run may take, in ms; `undefined` means the runtime's default. */
  readonly timeoutMs?: number;
}

/**
 * Everything the runtime needs to know about one task: its identity on the wire, its queue, its
 * class, and the schemas of its input and output messages.
 */
export interface TaskDefinition<I = unknown, O = unknown> {
  /** The stable wire name, e.g. `etl.extract`. */
  readonly name: string;
  /** A positive integer. */
  readonly version: number;
  /** `name@version`: the `task` field of the `registry` strategy. */
  readonly ref: string;
  /** The queue the task is published to. */
  readonly queue: string;
  /** The task class; the runtime instantiates it through DI. */
  readonly ctor: TaskClass<I, O>;
  /** Schema of the input message (built and cached by `schemaOf`). */
  readonly input: Schema<I>;
  /** Schema of the output message. */
  readonly output: Schema<O>;
  readonly options: TaskRunOptions;
}

const cache = new WeakMap<Ctor, TaskDefinition>();

function messageClass(
  record: TaskRecord, ref: string, which: 'input' | 'output', thunk: (() => Ctor) | undefined, fallback: unknown,
): Ctor {
  const code = which === 'input' ? TaskErrorCode.TASK_INPUT_INVALID : TaskErrorCode.TASK_OUTPUT_INVALID;
  let cls: unknown = fallback;
  if (thunk !== undefined) {
    try {
      cls = thunk();
    } catch (cause) {
      throw new TaskDefinitionError(code, ref,
        `the ${which} thunk threw (${cause instanceof Error ? cause.message : String(cause)}). It must return the ` +
        `${which} class, e.g. ${which}: () => My${which === 'input' ? 'Input' : 'Output'}.`, { cause });
    }
  }
  if (typeof cls !== 'function') {
    throw new TaskDefinitionError(code, ref,
      `the ${which} type is ${cls === undefined ? 'undefined (a circular import that is not resolved yet?)' : `not a class (${typeof cls})`}. ` +
      `Give the ${which} class of ${record.target.name || 'the task'} as ${which}: () => MyClass.`);
  }
  const ctor = cls as Ctor;
  if (!getMetadataStorage().message(ctor)) {
    throw new TaskDefinitionError(code, ref,
      `the ${which} class ${ctor.name || '<anonymous class>'} is not an @Output class. Decorate it with ` +
      `@Output('pkg.Name') and its properties with @Field so that it has a schema.`);
  }
  return ctor;
}

/**
 * The definition of a `@Task` class, built and validated on first use, then cached for the life
 * of the process. Building it also builds (and caches) the input and output schemas.
 *
 * @throws TaskDefinitionError `WEFT_TASK_NOT_DECORATED` when the class has no `@Task`;
 *   `WEFT_TASK_INPUT_INVALID` / `WEFT_TASK_OUTPUT_INVALID` when a message class is missing or is
 *   not an `@Output` class. A `DecoratorError` from `schemaOf` when a message class is malformed.
 *
 * @example
 * ```ts
 * const def = taskDefinitionOf(Extract);
 * def.ref;          // 'etl.extract@1'
 * def.queue;        // 'etl'
 * def.input.id;     // schema id of ExtractRequest
 * const bytes = def.input.codec.encode(request);
 * ```
 */
export function taskDefinitionOf<C extends TaskClass>(ctor: C): TaskDefinition<TaskInput<C>, TaskOutput<C>> {
  const hit = cache.get(ctor);
  if (hit) return hit as TaskDefinition<TaskInput<C>, TaskOutput<C>>;
  const record = typeof ctor === 'function' ? getMetadataStorage().task(ctor) : undefined;
  if (!record) {
    const className = (typeof ctor === 'function' && ctor.name) || String(ctor);
    throw new TaskDefinitionError(TaskErrorCode.TASK_NOT_DECORATED, className,
      `class ${className} is not a task. Decorate it with @Task('name', { output: () => MyOutput }).`);
  }
  const ref = taskRef(record.name, record.version);
  const inputClass = messageClass(record, ref, 'input', record.input, record.inputDesignType);
  const outputClass = messageClass(record, ref, 'output', record.output, undefined);
  const options: TaskRunOptions = Object.freeze({
    ...(record.retries === undefined ? {} : { retries: record.retries }),
    ...(record.timeoutMs === undefined ? {} : { timeoutMs: record.timeoutMs }),
  });
  const def: TaskDefinition<TaskInput<C>, TaskOutput<C>> = Object.freeze({
    name: record.name,
    version: record.version,
    ref,
    queue: record.queue,
    ctor: ctor as unknown as TaskClass<TaskInput<C>, TaskOutput<C>>,
    input: schemaOf(inputClass) as Schema<TaskInput<C>>,
    output: schemaOf(outputClass) as Schema<TaskOutput<C>>,
    options,
  });
  cache.set(ctor, def as TaskDefinition);
  return def;
}

/**
 * True when a value is a class decorated with `@Task`. Never throws.
 *
 * @example
 * ```ts
 * if (!isTaskClass(mod.Extract)) throw new Error('not a task');
 * ```
 */
export function isTaskClass(value: unknown): value is TaskClass {
  return typeof value === 'function' && getMetadataStorage().task(value as Ctor) !== undefined;
}
