import type { TaskClass, TaskInput, TaskOutput } from '../../decorators/types';
import { taskDefinitionOf, type TaskDefinition } from '../tasks/definition';
import { FlowError, FlowErrorCode } from './errors';

/**
 * The flow definition API: `flow(name).step(A).then(B).forEach(C, { over }).collect(D, { into })`.
 * Edge types are checked at compile time; `app.flows.register(flow)` checks each edge's schema
 * compatibility at runtime (see `register.ts`).
 *
 * @packageDocumentation
 */

/** Options every step accepts. */
export interface StepOptions {
  /**
   * The step's stable name: part of its items' idempotency keys and of its dispatch records.
   * Default: the task's name. Give one when a flow runs the same task twice.
   */
  readonly name?: string;
  /**
   * For `forEach` only: a child that ends FAILED_FINAL does not fail the flow; it is left out of the
   * fan-in, and listed in the flow's outcome (`handle.outcome()`).
   */
  readonly continueOnError?: boolean;
  /** Each item of the step must finish within this many ms of its dispatch (an absolute deadline is set). */
  readonly timeoutMs?: number;
}

/** Options of {@link Flow.forEach}. */
export interface ForEachOptions<K extends string> extends StepOptions {
  /** The field of the previous step's output that holds the list: one child per element. */
  readonly over: K;
}

/** Options of {@link FanOut.collect}. */
export interface CollectOptions<K extends string> extends StepOptions {
  /** The field of the task's input that receives the children's outputs, in index order. */
  readonly into: K;
}

/** How a stage runs. */
export type StageKind = 'step' | 'forEach' | 'collect';

/** One stage of a flow, as the orchestrator runs it. */
export interface FlowStage {
  readonly kind: StageKind;
  /** The step name (unique in the flow). */
  readonly name: string;
  readonly task: TaskClass;
  readonly def: TaskDefinition;
  /** `forEach`: the property of the previous output holding the list. */
  readonly over?: string;
  /** `collect`: the property of this task's input that receives the list. */
  readonly into?: string;
  readonly continueOnError: boolean;
  readonly timeoutMs?: number;
}

/** Compile-time edge error: what the type checker shows when an edge does not fit. */
export interface FlowEdgeMismatch<Writer, Reader> {
  readonly 'flow edge error: the previous step writes': Writer;
  readonly 'which this task cannot take as its input': Reader;
}

/** `unknown` when a `W` can be passed as an `R`, else a {@link FlowEdgeMismatch} that no task class satisfies. */
export type EdgeCheck<W, R> = [W] extends [R] ? unknown : FlowEdgeMismatch<W, R>;

/** Keys of `T` whose value is an array (optional ones too). */
export type ArrayKeys<T> = { [K in keyof T]-?: NonNullable<T[K]> extends readonly unknown[] ? K : never }[keyof T] & string;

/** The element type of the array at `T[K]`. */
export type ElementOf<T, K extends keyof T> = NonNullable<T[K]> extends readonly (infer E)[] ? E : never;

/** `unknown` when `T[K]` can hold a list of `C`, else a {@link FlowEdgeMismatch}. */
export type CollectCheck<C, T, K extends string> = K extends keyof T ? EdgeCheck<C[], NonNullable<T[K]>> : FlowEdgeMismatch<C[], `no field ${K}`>;

/** The stages of `stages` plus one more; checks the new step's name and options. */
function addStage(
  flowName: string, stages: readonly FlowStage[], kind: StageKind, task: TaskClass, options: StepOptions & { over?: string; into?: string },
): FlowStage[] {
  const def = taskDefinitionOf(task) as TaskDefinition;
  const name = options.name ?? def.name;
  if (stages.some((s) => s.name === name)) {
    throw new FlowError(FlowErrorCode.FLOW_INVALID,
      `flow ${flowName} already has a step named '${name}'; give the second one its own name: { name: '${name}-2' }`);
  }
  if (options.timeoutMs !== undefined && (!Number.isSafeInteger(options.timeoutMs) || options.timeoutMs <= 0)) {
    throw new FlowError(FlowErrorCode.FLOW_INVALID, `step '${name}' of flow ${flowName}: timeoutMs must be a positive integer`);
  }
  if (options.continueOnError && kind !== 'forEach') {
    throw new FlowError(FlowErrorCode.FLOW_INVALID,
      `step '${name}' of flow ${flowName}: continueOnError applies to forEach steps (a failed child is left out of the fan-in); ` +
      'a single step without an output leaves the next step nothing to run on');
  }
  return [...stages, {
    kind, name, task, def, continueOnError: options.continueOnError === true,
    ...(options.over === undefined ? {} : { over: options.over }),
    ...(options.into === undefined ? {} : { into: options.into }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  }];
}

abstract class FlowBase {
  /** @internal */
  constructor(readonly name: string, readonly stages: readonly FlowStage[]) {}
}

/**
 * A flow whose last step writes an `Out`; its first step reads an `In`. Immutable: each method
 * returns a new flow.
 *
 * @example
 * ```ts
 * const orders = flow('orders')
 *   .step(Ingest)                                  // OrderBatchRequest -> OrderBatch
 *   .forEach(Enrich, { over: 'orders' })           // one Enrich per element of OrderBatch.orders
 *   .collect(Report, { into: 'orders' });          // Report's input.orders = the Enrich outputs
 * app.flows.register(orders);
 * const report = await (await app.flows.start(orders, request, { businessKey: 'day-42' })).result();
 * ```
 */
export class Flow<In, Out> extends FlowBase {
  /** Phantom types, for inference only. */
  declare readonly __types?: { in: In; out: Out };

  /** Runs `task` on the previous step's output, which must be assignable to the task's input. */
  then<T extends TaskClass>(task: T & EdgeCheck<Out, TaskInput<T>>, options: StepOptions = {}): Flow<In, TaskOutput<T>> {
    return new Flow(this.name, addStage(this.name, this.stages, 'step', task, options));
  }

  /**
   * Fans out: one `task` per element of the previous output's list field `over` (lineage index =
   * element index). The children's outputs must then be gathered with {@link FanOut.collect}.
   */
  forEach<K extends ArrayKeys<Out>, T extends TaskClass>(
    task: T & EdgeCheck<ElementOf<Out, K>, TaskInput<T>>, options: ForEachOptions<K>,
  ): FanOut<In, TaskOutput<T>> {
    if (typeof options?.over !== 'string' || !options.over) {
      throw new FlowError(FlowErrorCode.FLOW_INVALID, `forEach in flow ${this.name} needs { over: '<list field of the previous output>' }`);
    }
    return new FanOut(this.name, addStage(this.name, this.stages, 'forEach', task, options));
  }
}

/** A flow that ends in a fan-out: the only next step is {@link FanOut.collect}. */
export class FanOut<In, ChildOut> extends FlowBase {
  declare readonly __types?: { in: In; child: ChildOut };

  /**
   * Fans in: runs `task` once every child has finished, with its input's list field `into` holding
   * the children's outputs in index order (failed children of a `continueOnError` fan-out are left out).
   */
  collect<K extends string, T extends TaskClass>(task: T & CollectCheck<ChildOut, TaskInput<T>, K>, options: CollectOptions<K>): Flow<In, TaskOutput<T>> {
    if (typeof options?.into !== 'string' || !options.into) {
      throw new FlowError(FlowErrorCode.FLOW_INVALID, `collect in flow ${this.name} needs { into: '<list field of the task input>' }`);
    }
    return new Flow(this.name, addStage(this.name, this.stages, 'collect', task, options));
  }
}

/** The start of a flow definition: give it its first step. */
export class FlowBuilder {
  /** @internal */
  constructor(readonly name: string) {}

  /** The first step: the flow's input is this task's input. */
  step<T extends TaskClass>(task: T, options: StepOptions = {}): Flow<TaskInput<T>, TaskOutput<T>> {
    return new Flow(this.name, addStage(this.name, [], 'step', task, options));
  }
}

const FLOW_NAME = /^[A-Za-z0-9_.-]{1,200}$/;

/**
 * Starts a flow definition. The name is stable: it is the pipeline of every step's idempotency key,
 * so renaming a flow makes its executions new work.
 *
 * @throws FlowError `WEFT_FLOW_INVALID` for a name that is not 1-200 letters, digits, `_`, `.` or `-`.
 */
export function flow(name: string): FlowBuilder {
  if (typeof name !== 'string' || !FLOW_NAME.test(name)) {
    throw new FlowError(FlowErrorCode.FLOW_INVALID, `flow name ${JSON.stringify(name)} is not valid: use 1-200 letters, digits, '_', '.' or '-'`);
  }
  return new FlowBuilder(name);
}

/** Any complete flow (one whose last step is not a fan-out). */
export type AnyFlow = Flow<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
/** The input type of a flow. */
export type FlowInput<F> = F extends Flow<infer I, unknown> ? I : never;
/** The output type of a flow. */
export type FlowOutput<F> = F extends Flow<unknown, infer O> ? O : never;
