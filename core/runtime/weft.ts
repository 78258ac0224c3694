import { WeftError } from '../errors';
import { bootstrap, BootstrapOptions, WeftApp } from '../app/bootstrap';
import { EVENT_LOG, TASK_CONTEXT } from '../app/tokens';
import type { EventLog } from '../events/event-log';
import { EventLogMissingError } from '../events/errors';
import { workflowEventEmitter } from '../events/workflow-events';
import { subscribeWorkflowEvents, type SubscribeOptions, type WorkflowSubscription } from '../events/subscription';
import { broadcastCancellation, CancellationFeed, type Cancellation, type CancellationListener } from '../events/cancellation';
import type { WorkflowEventSink } from '../events/task-events';
import { SchemaRegistry, SchemaRegistryOptions } from '../registry/schema-registry';
import type { TaskClass, TaskInput, TaskOutput } from '../../decorators/types';
import { taskDefinitionOf } from '../tasks/definition';
import { RegistryTaskResolver, ResolverRegistry } from '../tasks/resolver';
import type { TaskResolver } from '../tasks/resolver';
import { Client, SubmitOptions, TaskHandle } from './client';
import { DeadLetters } from './dead-letters';
import type { Runnable, RuntimeTaskDefinition } from './context';
import { Worker, WorkerOptions } from './worker';
import type { DispatchLedger } from '../dispatch/ledger';
import type { DispatchRecord, DispatchStore } from '../dispatch/store';
import type { Transport } from './transport';
import { StoreLedger } from '../dispatch/store-ledger';
import { Reconciler } from '../dispatch/reconciler';
import { WORKFLOW_STORE } from '../app/tokens';
import type { AnyFlow } from '../workflow/definition';
import { Flows } from '../workflow/flows';
import { Orchestrator, type OrchestratorOptions } from '../workflow/orchestrator';
import type { WorkflowStore } from '../workflow/store';

/** Options of {@link Weft.create}. */
export interface WeftOptions extends BootstrapOptions {
  /** Schema registry tuning (caches, default compatibility mode). */
  readonly registry?: SchemaRegistryOptions;
  /**
   * Builds the app's dispatch ledger instead of the default (the plugin's own ledger if one
   * provides it, else a `StoreLedger` over the app's dispatch store and transport). For tests and
   * for plugins that want the generic path.
   */
  readonly dispatchLedger?: (parts: { readonly store: DispatchStore; readonly transport: Transport; readonly provided?: DispatchLedger }) => DispatchLedger;
}

/** Options of {@link Weft.worker}. */
export interface WeftWorkerOptions extends Omit<WorkerOptions, 'queues'> {
  /** The task classes this worker runs. Their queues are consumed. */
  readonly tasks: readonly TaskClass[];
  /** Extra resolvers (for example a `ModuleTaskResolver` with an allowlist). */
  readonly resolvers?: readonly TaskResolver[];
  /** Queues to consume; default: the queues of `tasks`. */
  readonly queues?: readonly string[];
  /**
   * Crash recovery: the worker runs a `Reconciler` that redelivers dispatch records left idle in
   * `PENDING`, `SENT` or `FAILED_RETRYABLE` (a producer or worker that crashed, a retry schedule
   * that was lost). Any number of workers may run one; they coordinate through the store's CAS.
   * `false` turns it off. Default: idle threshold 5 minutes, a round every 5 s.
   */
  readonly reconcile?: false | { readonly idleMs?: number; readonly intervalMs?: number };
}

/** How long `app.worker()` waits for the cancellation feed to catch up before the worker starts, ms. */
const CANCELLATIONS_READY_MS = 2000;

/** The reconciler's default idle threshold in a worker: longer than any healthy queue wait or task. */
export const WORKER_RECONCILE_IDLE_MS = 300_000;

/**
 * A Weft application: submit tasks, run workers. One DI container, one schema registry and one
 * client per app.
 *
 * @remarks
 * `Weft.create` takes plugins by reference. Core knows no concrete plugin: with no plugins it
 * uses `options.catalog` (by name, from `WEFT_TRANSPORT`/`REDIS_URL`). The `Weft` exported by
 * `plugins/index.ts` passes the default catalog, so that with no configuration everything runs in
 * memory.
 *
 * @example
 * ```ts
 * const app = await Weft.create({ plugins: [redisPlugin({ url: process.env.REDIS_URL })] });
 * const rows = await (await app.submit(Extract, request)).result(); // typed ExtractedRows
 * // another machine, with only the Redis URL and the task modules:
 * const worker = await (await Weft.create({ plugins: [redisPlugin({ url })] })).worker({ tasks: [Extract], concurrency: 32 });
 * ```
 */
export class Weft {
  /** The schema registry over the app's schema store. */
  readonly registry: SchemaRegistry;
  private readonly client: Client;
  private readonly workers = new Set<Worker>();
  private readonly orchestrators = new Set<Orchestrator>();
  private flowsApi?: Flows;
  private closing?: Promise<void>;
  private feed?: CancellationFeed;
  private sink?: WorkflowEventSink;

  /** The app's dispatch ledger: the plugin's own, or the dispatch store and transport composed. */
  readonly ledger: DispatchLedger;

  private constructor(readonly app: WeftApp, options: WeftOptions) {
    this.registry = new SchemaRegistry(app.schemaStore, options.registry);
    const parts = { store: app.dispatchStore, transport: app.transport, provided: app.dispatchLedger };
    this.ledger = options.dispatchLedger?.(parts) ?? parts.provided ?? new StoreLedger(parts.store, parts.transport);
    this.client = new Client({
      transport: app.transport, schemas: this.registry, ledger: this.ledger, logger: app.logger.child({ component: 'client' }),
    });
  }

  private deadLettersApi?: DeadLetters;

  /** The dead-letter API over the app's transport and schema registry: list, inspect, replay, purge. */
  get deadLetters(): DeadLetters {
    return (this.deadLettersApi ??= new DeadLetters({ transport: this.app.transport, schemas: this.registry, store: this.app.dispatchStore }));
  }

  /** The app's event log (the `eventLog` port), or `undefined` when no plugin provides one. */
  get eventLog(): EventLog | undefined {
    return this.app.has('eventLog') ? this.app.resolve<EventLog>(EVENT_LOG) : undefined;
  }

  /**
   * The events of one execution, from the first (a late subscriber gets the events so far), as an
   * async iterator: `step_started`, `progress`, `step_completed`, `step_failed`, and the workflow's
   * end (`workflow_completed`, `workflow_failed`, `workflow_cancelled`), after which the iteration
   * ends. `break`, `return()` or `options.signal` end it too, at once, leaving no read behind. Any
   * number of subscribers may follow one execution; each gets every event.
   *
   * @throws EventLogMissingError (`WEFT_EVENT_LOG_MISSING`) when no plugin provides `eventLog`.
   *
   * @example
   * ```ts
   * const handle = await app.submit(Enrich, order, { events: true });
   * for await (const ev of app.subscribe(handle.executionId, { signal: AbortSignal.timeout(60_000) })) {
   *   console.log(ev.kind, ev.step, ev.percent ?? '', ev.message ?? '');
   *   if (ev.kind === 'step_completed' || ev.kind === 'step_failed') break; // a single task: no workflow_* event
   * }
   * ```
   */
  subscribe(executionId: string, options?: SubscribeOptions): WorkflowSubscription {
    const log = this.requireEventLog('subscribe');
    return subscribeWorkflowEvents(log, executionId, options);
  }

  /**
   * Cancels an execution on every machine: appends a `cancel` entry to the control stream, which
   * every worker follows. Running tasks of the execution see `ctx.signal` fire (reason: a
   * `CancelledError`, `WEFT_CANCELLED`); its deliveries that have not started end as final failures
   * with `WEFT_CANCELLED` (their `result()` rejects with that code). Workers in this process learn of
   * it at once, others within a read of the control stream.
   *
   * @remarks
   * A cancelled execution id stays cancelled while workers remember it (the newest 10,000): work
   * submitted again under the same execution id (the same business key) is refused too.
   *
   * @throws EventLogMissingError (`WEFT_EVENT_LOG_MISSING`) when no plugin provides `eventLog`.
   *
   * @example
   * ```ts
   * const handle = await app.submit(Report, request);
   * await app.cancel(handle.executionId, 'the customer withdrew the order');
   * await handle.result(); // rejects with code WEFT_CANCELLED (unless it had finished already)
   * ```
   */
  async cancel(executionId: string, reason = ''): Promise<Cancellation> {
    const log = this.requireEventLog('cancel');
    const c = await broadcastCancellation(log, executionId, reason);
    this.feed?.note(c);
    return c;
  }

  /**
   * Calls `listener` for every cancellation this process learns of from now on (from any machine),
   * until the returned function is called. Each execution is reported once.
   *
   * @example
   * ```ts
   * const off = app.onCancel((c) => orchestrator.stop(c.executionId));
   * // ...
   * off();
   * ```
   */
  onCancel(listener: CancellationListener): () => void {
    return this.cancellations.onCancel(listener);
  }

  /**
   * The app's cancellation feed: which executions are cancelled (`isCancelled`), and `onCancel`.
   * Its read of the control stream runs while a worker or a listener holds it.
   *
   * @throws EventLogMissingError (`WEFT_EVENT_LOG_MISSING`) when no plugin provides `eventLog`.
   */
  get cancellations(): CancellationFeed {
    if (this.closing) throw new WeftError('WEFT_APP_CLOSED', 'the app is closed; create a new one');
    return (this.feed ??= new CancellationFeed(this.requireEventLog('cancellation'), { logger: this.app.logger.child({ component: 'cancellations' }) }));
  }

  private requireEventLog(what: string): EventLog {
    const log = this.eventLog;
    if (!log) throw new EventLogMissingError(what);
    return log;
  }

  /** Appends workflow events for the worker; a failing append is logged, never thrown. */
  private eventSink(): WorkflowEventSink | undefined {
    if (this.sink) return this.sink;
    const log = this.eventLog;
    if (!log) return undefined;
    const emit = workflowEventEmitter(log);
    const logger = this.app.logger.child({ component: 'events' });
    return (this.sink = (executionId, event) => emit(executionId, event).catch((err: unknown) => {
      logger.warn({ err, executionId, kind: event.kind }, 'appending a workflow event failed; the task goes on without it');
    }));
  }

  /** Bootstraps the plugins (validated before anything moves) and returns the app. */
  static async create(options: WeftOptions = {}): Promise<Weft> {
    return new Weft(await bootstrap(options), options);
  }

  /**
   * Submits one task. The input is validated and encoded first: a `ValidationError` means nothing
   * was sent. `result()` on the handle resolves to the typed output.
   */
  async submit<C extends TaskClass>(task: C, input: TaskInput<C>, options?: SubmitOptions<TaskInput<C>>): Promise<TaskHandle<TaskOutput<C>>> {
    return this.client.submit<TaskInput<C>, TaskOutput<C>>(runtimeDefinition(task), input, options);
  }

  /** Submits many tasks of one kind in one transport call (one pipeline on Redis). */
  async submitMany<C extends TaskClass>(task: C, inputs: readonly TaskInput<C>[], options?: SubmitOptions<TaskInput<C>>): Promise<TaskHandle<TaskOutput<C>>[]> {
    return this.client.submitMany<TaskInput<C>, TaskOutput<C>>(runtimeDefinition(task), inputs, options);
  }

  /**
   * Starts a worker for the given tasks. It needs nothing of the producer: only the app's
   * connection (plugins) and a resolver registry, built here from `tasks` and `resolvers`.
   */
  async worker(options: WeftWorkerOptions): Promise<Worker> {
    if (this.closing) throw new WeftError('WEFT_APP_CLOSED', 'the app is closed; create a new one');
    const registry = new ResolverRegistry([new RegistryTaskResolver({ tasks: options.tasks }), ...(options.resolvers ?? [])]);
    const queues = options.queues ?? [...new Set(options.tasks.map((t) => taskDefinitionOf(t).queue))];
    const emit = this.eventSink();
    const cancellations = this.eventLog ? this.cancellations : undefined;
    const worker = new Worker({
      transport: this.app.transport,
      schemas: this.registry,
      tasks: { resolve: (env) => registry.resolve(env) as unknown as RuntimeTaskDefinition },
      instantiate: (def) => this.instantiate(def),
      logger: this.app.logger.child({ component: 'worker' }),
      ledger: this.ledger,
      submit: (task, input, child) => this.client.submit(runtimeDefinition(task), input, child),
      ...(options.reconcile === false ? {} : { reconciler: this.reconciler(options.reconcile) }),
      ...(emit ? { emit } : {}),
      ...(cancellations ? { cancellations } : {}),
    }, { ...options, queues });
    this.workers.add(worker);
    if (cancellations) {
      // Cancellations made before this worker started are known before it runs anything (bounded wait).
      const hold = cancellations.acquire();
      try {
        await cancellations.ready(CANCELLATIONS_READY_MS);
      } finally {
        worker.start(); // holds the feed from here on
        hold();
      }
      return worker;
    }
    return worker.start();
  }

  /**
   * The app's flow API: `register`, `start`, `cancel`, `handle` (see docs/workflows.md). Needs a
   * plugin that provides the `workflowStore` port (the memory and redis plugins do).
   */
  get flows(): Flows {
    return (this.flowsApi ??= new Flows({
      ledger: this.ledger, transport: this.app.transport, schemas: this.registry,
      store: this.workflowStore(),
      ...(this.eventLog ? { broadcast: (executionId: string, reason: string) => this.cancel(executionId, reason) } : {}),
    }));
  }

  private workflowStore(): WorkflowStore | undefined {
    return this.app.has('workflowStore') ? this.app.resolve<WorkflowStore>(WORKFLOW_STORE) : undefined;
  }

  /** Registers a flow (`app.flows.register`): every edge's schema compatibility is checked. */
  register<F extends AnyFlow>(flow: F): F {
    return this.flows.register(flow);
  }

  /**
   * Starts an orchestrator instance: it runs the flows registered in `app.flows` (register them
   * first). Any number may run, in any processes; a message an instance held when it died is taken
   * over by another. Closed with the app.
   *
   * @example
   * ```ts
   * app.flows.register(orders);
   * const orchestrator = await app.orchestrator({ visibilityTimeoutMs: 10_000 });
   * ```
   */
  async orchestrator(options: OrchestratorOptions = {}): Promise<Orchestrator> {
    if (this.closing) throw new WeftError('WEFT_APP_CLOSED', 'the app is closed; create a new one');
    const flows = this.flows;
    const store = this.workflowStore();
    if (!store) {
      throw new WeftError('WEFT_FLOW_STORE_MISSING', 'no plugin provides the workflowStore port; the memory and redis plugins do (memoryPlugin(), redisPlugin())');
    }
    const orchestrator = new Orchestrator({
      transport: this.app.transport, ledger: this.ledger, store, flows: flows.registry,
      logger: this.app.logger.child({ component: 'orchestrator' }),
      dispatch: (def, items, opts) => this.client.dispatchEncoded(def, items, opts),
    }, { queue: flows.queue, ...(this.eventLog ? { emit: workflowEventEmitter(this.eventLog) } : {}), ...options });
    this.orchestrators.add(orchestrator);
    return orchestrator.start();
  }

  /**
   * A crash-recovery loop over the app's dispatch store, for a process that runs no worker (every
   * worker already runs one; see `WeftWorkerOptions.reconcile`). Any number may run: they coordinate
   * through the store's compare-and-set. Call `start()` to run it every `intervalMs`, or `runOnce()`.
   *
   * @example
   * ```ts
   * const reconciler = app.reconciler({ idleMs: 60_000 });
   * reconciler.start();
   * // ...
   * await reconciler.close();
   * ```
   */
  reconciler(options: { readonly idleMs?: number; readonly intervalMs?: number; readonly batch?: number } = {}): Reconciler {
    return new Reconciler({
      store: this.app.dispatchStore,
      republish: (records) => this.ledger.republish(records),
      // Records it ends FAILED_FINAL get a dead letter and an error reply, so result() and flows end.
      ...(this.ledger.notifyFinal ? { notify: (records: DispatchRecord[]) => this.ledger.notifyFinal!(records, Date.now()) } : {}),
      idleMs: options.idleMs ?? WORKER_RECONCILE_IDLE_MS,
      ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
      ...(options.batch === undefined ? {} : { batch: options.batch }),
      logger: this.app.logger.child({ component: 'reconciler' }),
    });
  }

  /** Per task class: can it be built with a bare `new` (no constructor dependencies, no registration of its own)? */
  private readonly plainTasks = new Map<unknown, boolean>();

  /**
   * A new task instance. A class with constructor dependencies, or one registered in the container
   * (`@singleton()`, `registerSingleton`...), is resolved from a task scope of the app's container;
   * any other class is simply constructed, which is what the container would do, minus a child
   * container per task.
   */
  private instantiate(def: RuntimeTaskDefinition): Runnable {
    const ctor = def.ctor as unknown as new () => Runnable;
    let plain = this.plainTasks.get(ctor);
    if (plain === undefined) {
      const params = Reflect.getMetadata?.('design:paramtypes', ctor) as unknown[] | undefined;
      plain = ctor.length === 0 && (params === undefined || params.length === 0) && !this.app.container.isRegistered(ctor as never, true);
      this.plainTasks.set(ctor, plain);
    }
    if (plain) return new ctor();
    return this.app.resolveTask(def.ctor as never, (scope) => scope.registerInstance(TASK_CONTEXT, def)) as Runnable;
  }

  /** Closes workers (finishing their work in flight), the client, then the plugins. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.orchestrators].map((o) => o.close()));
      await Promise.all([...this.workers].map((w) => w.close()));
      await this.feed?.close();
      await this.client.close();
      await this.ledger.close?.();
      await this.app.close();
    })();
    return this.closing;
  }
}

function runtimeDefinition(task: TaskClass): RuntimeTaskDefinition {
  return taskDefinitionOf(task) as unknown as RuntimeTaskDefinition;
}
