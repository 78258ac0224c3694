import * as fs from 'fs';
import * as path from 'path';
import type { TaskClass } from '../../decorators/types';
import { isTaskClass, TaskDefinition, taskDefinitionOf } from './definition';
import {
  ModuleTaskError, quoteWire, ResolverConfigError, ResolverError, TaskErrorCode, TaskUnknownError,
} from './errors';
import type { TaskStrategy } from './wire';

/** The resolver id a message names when it names none. */
export const DEFAULT_RESOLVER_ID = 'default';
/** The id a {@link ModuleTaskResolver} takes when none is given. */
export const DEFAULT_MODULE_RESOLVER_ID = 'module';

/**
 * Seed 001's `SerializedTask`: how a worker finds the code of a task. `task` is `name@version`
 * for the `registry` strategy and `specifier#exportName` for the `module` strategy.
 */
export interface SerializedTask {
  readonly strategy: TaskStrategy;
  readonly task: string;
}

/** A {@link SerializedTask} plus the id of the resolver that must read it: the envelope's routing fields. */
export interface TaskAddress extends SerializedTask {
  readonly resolverId: string;
}

/**
 * The port that turns a task class into a wire reference and back.
 *
 * @remarks
 * A resolver is pure lookup: it never runs a task and never instantiates a class (the runtime does
 * that through DI). It must not execute code chosen by the sender: a reference it does not
 * recognise is refused with a coded error, never "tried". `resolve` is called once per message on
 * the worker's hot path, so implementations cache. The contract does not cover versioning policy
 * (which versions a worker accepts) nor hot reloading of code.
 *
 * @example
 * ```ts
 * const resolver: TaskResolver = new RegistryTaskResolver({ tasks: [Extract] });
 * const wire = resolver.serialize(Extract);          // { strategy: 'registry', task: 'etl.extract@1' }
 * const def = resolver.resolve(wire);                // the TaskDefinition of Extract
 * ```
 */
export interface TaskResolver {
  /** The id messages use to pick this resolver (their `resolver_id`). */
  readonly id: string;
  /** The one strategy this resolver reads and writes. */
  readonly strategy: TaskStrategy;
  /**
   * The definition a reference names.
   * @throws a coded WeftError (`WEFT_TASK_UNKNOWN`, `WEFT_STRATEGY_MISMATCH`, `WEFT_MODULE_NOT_ALLOWED`, ...).
   */
  resolve(task: SerializedTask): TaskDefinition;
  /** The wire reference of a task class (or of its definition). */
  serialize(task: TaskClass | TaskDefinition): SerializedTask;
}

const RESOLVER_ID_RE = /^[A-Za-z0-9_.-]{1,100}$/;

function assertResolverId(id: unknown): string {
  if (typeof id !== 'string' || !RESOLVER_ID_RE.test(id)) {
    throw new ResolverConfigError(TaskErrorCode.RESOLVER_CONFIG_INVALID,
      `resolver id ${quoteWire(id)} is not valid: use 1 to 100 letters, digits, '_', '.' or '-'.`);
  }
  return id;
}

function isDefinition(x: unknown): x is TaskDefinition {
  return typeof x === 'object' && x !== null && typeof (x as TaskDefinition).ref === 'string' &&
    typeof (x as TaskDefinition).ctor === 'function';
}

function definitionOf(task: TaskClass | TaskDefinition): TaskDefinition {
  return isDefinition(task) ? task : (taskDefinitionOf(task) as TaskDefinition);
}

function checkStrategy(resolver: TaskResolver, task: SerializedTask): void {
  if (task === null || typeof task !== 'object' || typeof task.task !== 'string') {
    throw new TaskUnknownError(String(task), `resolver '${resolver.id}' was given no task reference`,
      { code: TaskErrorCode.TASK_REF_INVALID });
  }
  if (task.strategy !== resolver.strategy) {
    throw new ResolverError(TaskErrorCode.STRATEGY_MISMATCH, resolver.id,
      `resolver '${resolver.id}' reads the '${resolver.strategy}' strategy, but the message uses ` +
      `${quoteWire(task.strategy)}. Producer and worker must agree on the resolver id and its strategy.`);
  }
}

/**
 * The `registry` strategy: tasks are named `name@version` and the worker registers, in code, every
 * class it is willing to run. Nothing is ever loaded from a name.
 *
 * @example
 * ```ts
 * const resolver = new RegistryTaskResolver({ tasks: [Extract, Load] });
 * resolver.resolve({ strategy: 'registry', task: 'etl.extract@1' }).ctor; // Extract
 * ```
 */
export class RegistryTaskResolver implements TaskResolver {
  readonly id: string;
  readonly strategy = 'registry' as const;
  private readonly byRef = new Map<string, TaskDefinition>();

  /**
   * @param options - `id` (default `'default'`) and the `tasks` to register right away.
   * @throws TaskDefinitionError when a class is not a valid task; ResolverConfigError on a conflict.
   */
  constructor(options: { readonly id?: string; readonly tasks?: Iterable<TaskClass> } = {}) {
    this.id = assertResolverId(options.id ?? DEFAULT_RESOLVER_ID);
    if (options.tasks) this.register(...options.tasks);
  }

  /**
   * Registers task classes (validating each one's definition now, not on the first message).
   * Registering a class twice is harmless; two classes under one `name@version` is an error.
   *
   * @example
   * ```ts
   * resolver.register(Extract, Load);
   * ```
   */
  register(...tasks: TaskClass[]): this {
    for (const task of tasks) {
      const def = definitionOf(task);
      const existing = this.byRef.get(def.ref);
      if (existing && existing.ctor !== def.ctor) {
        throw new ResolverConfigError(TaskErrorCode.TASK_DUPLICATE,
          `resolver '${this.id}': task '${def.ref}' is already registered for class ${existing.ctor.name}; ` +
          `cannot register class ${def.ctor.name} under the same name and version.`);
      }
      this.byRef.set(def.ref, def);
    }
    return this;
  }

  /** True when `ref` (`name@version`) is registered. */
  has(ref: string): boolean {
    return this.byRef.has(ref);
  }

  /** Every registered definition, in registration order. */
  definitions(): readonly TaskDefinition[] {
    return [...this.byRef.values()];
  }

  /**
   * @throws ResolverError `WEFT_STRATEGY_MISMATCH`; TaskUnknownError `WEFT_TASK_UNKNOWN` when
   *   nothing is registered under the reference.
   */
  resolve(task: SerializedTask): TaskDefinition {
    checkStrategy(this, task);
    const def = this.byRef.get(task.task);
    if (def) return def;
    const at = task.task.lastIndexOf('@');
    const name = at > 0 ? task.task.slice(0, at) : task.task;
    const versions = this.definitions().filter((d) => d.name === name).map((d) => d.version);
    throw new TaskUnknownError(task.task,
      `resolver '${this.id}' has no task ${quoteWire(task.task)}` +
      (versions.length ? ` (it has version${versions.length > 1 ? 's' : ''} ${versions.join(', ')} of ${quoteWire(name)})` : '') +
      '. Register the task class on the worker: new RegistryTaskResolver({ tasks: [MyTask] }).');
  }

  /** `{ strategy: 'registry', task: 'name@version' }`. The class need not be registered here. */
  serialize(task: TaskClass | TaskDefinition): SerializedTask {
    return { strategy: this.strategy, task: definitionOf(task).ref };
  }
}

/** Options of a {@link ModuleTaskResolver}. */
export interface ModuleTaskResolverOptions {
  /** The resolver id; `'module'` by default. */
  readonly id?: string;
  /**
   * Directories whose files may be loaded. Relative paths are taken from the current directory.
   * Each must exist; symlinks are resolved once, here. A module is allowed only when its real path
   * lies inside the real path of one of them.
   */
  readonly roots: readonly string[];
  /**
   * Bare package names (`'@acme/etl-tasks'`, `'etl-tasks'`) that may be loaded, with their
   * subpaths. None by default: a bare specifier is refused unless its package is listed.
   */
  readonly packages?: readonly string[];
  /** Where packages are resolved from (their `node_modules` lookup starts here); the current directory by default. */
  readonly resolveFrom?: string;
}

const EXPORT_NAME_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const PACKAGE_NAME_RE = /^(@[A-Za-z0-9][A-Za-z0-9._~-]*\/)?[A-Za-z0-9][A-Za-z0-9._~-]*$/;
/** The longest `task` reference the module strategy reads. */
export const MAX_MODULE_REF_LENGTH = 1024;

type Located = { readonly kind: 'relative'; readonly rest: string }
  | { readonly kind: 'absolute'; readonly file: string }
  | { readonly kind: 'package'; readonly specifier: string };

/** Node's module record, the little of it we read. */
interface CachedModule { readonly filename?: string; readonly exports?: unknown }

function isWithin(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

function isNotFound(e: unknown): boolean {
  return (e as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND' || (e as { code?: unknown } | null)?.code === 'ENOENT';
}

/**
 * The `module` strategy: `task` is `<specifier>#<exportName>`, and the worker `require()`s the
 * module, but only from places its operator allowlisted.
 *
 * @remarks
 * Specifiers take three forms:
 * - `./dir/file` (the usual one, and what {@link ModuleTaskResolver.serialize} writes): relative to
 *   an allowlisted root, tried in the order the roots were given. Portable across machines whose
 *   roots live at different absolute paths. The extension may be left out.
 * - `/abs/path/file`: an absolute path, which must lie inside a root.
 * - `pkg` or `@scope/pkg/sub`: a bare package name, only when the package is in `packages`.
 *
 * Refused with `WEFT_MODULE_NOT_ALLOWED`, before anything is loaded: `..` or `.` segments,
 * backslashes, NUL bytes, URL schemes and `node:` builtins, absolute paths outside the roots,
 * packages not allowlisted, and files whose real path (after symlinks and `package.json` `main`)
 * falls outside every root. The named export must be a `@Task` class (`WEFT_MODULE_EXPORT_INVALID`
 * otherwise). An allowed module's own imports are its business: allowlist only code you trust.
 *
 * @example
 * ```ts
 * const resolver = new ModuleTaskResolver({ id: 'default', roots: ['./dist/tasks'] });
 * resolver.resolve({ strategy: 'module', task: './etl/extract#Extract' }).ref; // 'etl.extract@1'
 * resolver.resolve({ strategy: 'module', task: '../../etc/evil#X' });         // throws WEFT_MODULE_NOT_ALLOWED
 * ```
 */
export class ModuleTaskResolver implements TaskResolver {
  readonly id: string;
  readonly strategy = 'module' as const;
  /** The allowlisted roots, as real paths. */
  readonly roots: readonly string[];
  /** The allowlisted package names. */
  readonly packages: readonly string[];
  private readonly resolveFrom: string;
  private readonly resolved = new Map<string, TaskDefinition>();
  private readonly addresses = new Map<TaskClass, string>();

  /**
   * @throws ResolverConfigError `WEFT_RESOLVER_CONFIG_INVALID` when there is no root, a root does
   *   not exist or is not a directory, or a package name is malformed.
   */
  constructor(options: ModuleTaskResolverOptions) {
    this.id = assertResolverId(options?.id ?? DEFAULT_MODULE_RESOLVER_ID);
    const roots = options?.roots;
    if (!Array.isArray(roots) || roots.length === 0) {
      throw new ResolverConfigError(TaskErrorCode.RESOLVER_CONFIG_INVALID,
        `module resolver '${this.id}' needs at least one allowlisted root directory (options.roots).`);
    }
    this.roots = Object.freeze(roots.map((root) => {
      let real: string;
      try {
        if (typeof root !== 'string' || root === '') throw new Error('not a path');
        real = fs.realpathSync(path.resolve(root));
      } catch (cause) {
        throw new ResolverConfigError(TaskErrorCode.RESOLVER_CONFIG_INVALID,
          `module resolver '${this.id}': root ${quoteWire(root)} does not exist. Allowlist existing directories only.`,
          { cause });
      }
      if (!fs.statSync(real).isDirectory()) {
        throw new ResolverConfigError(TaskErrorCode.RESOLVER_CONFIG_INVALID,
          `module resolver '${this.id}': root ${quoteWire(root)} is not a directory.`);
      }
      return real;
    }));
    const packages = options.packages ?? [];
    for (const p of packages) {
      if (typeof p !== 'string' || !PACKAGE_NAME_RE.test(p)) {
        throw new ResolverConfigError(TaskErrorCode.RESOLVER_CONFIG_INVALID,
          `module resolver '${this.id}': ${quoteWire(p)} is not a package name such as 'etl-tasks' or '@acme/etl-tasks'.`);
      }
    }
    this.packages = Object.freeze([...packages]);
    this.resolveFrom = path.resolve(options.resolveFrom ?? process.cwd());
  }

  /**
   * Loads (once) and returns the task a `specifier#exportName` reference names.
   *
   * @throws ModuleTaskError `WEFT_MODULE_NOT_ALLOWED` (nothing was loaded), `WEFT_MODULE_NOT_FOUND`,
   *   `WEFT_MODULE_LOAD_FAILED`, `WEFT_MODULE_EXPORT_INVALID`, `WEFT_TASK_REF_INVALID`;
   *   ResolverError `WEFT_STRATEGY_MISMATCH`; TaskDefinitionError when the class is not a valid task.
   */
  resolve(task: SerializedTask): TaskDefinition {
    checkStrategy(this, task);
    const ref = task.task;
    const hit = this.resolved.get(ref);
    if (hit) return hit;
    const { specifier, exportName } = this.parse(ref);
    const file = this.locate(ref, specifier);
    let exports: unknown;
    try {
      exports = require(file); // eslint-disable-line @typescript-eslint/no-require-imports
    } catch (cause) {
      throw new ModuleTaskError(TaskErrorCode.MODULE_LOAD_FAILED, ref,
        `module ${quoteWire(specifier)} (${file}) threw while loading: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause });
    }
    const value = (typeof exports === 'object' || typeof exports === 'function') && exports !== null &&
      Object.prototype.hasOwnProperty.call(exports, exportName)
      ? (exports as Record<string, unknown>)[exportName]
      : undefined;
    if (!isTaskClass(value)) {
      throw new ModuleTaskError(TaskErrorCode.MODULE_EXPORT_INVALID, ref,
        `module ${quoteWire(specifier)} ${value === undefined ? 'has no export' : 'exports something that is not a @Task class as'} ` +
        `${quoteWire(exportName)}. Only classes decorated with @Task can be named by the module strategy.`);
    }
    const def = taskDefinitionOf(value);
    this.resolved.set(ref, def);
    this.addresses.set(def.ctor, ref);
    return def;
  }

  /**
   * `{ strategy: 'module', task: './rel/path#ExportName' }` for a class that was loaded from a module
   * under one of the roots (its path relative to the first root that holds it, extension dropped),
   * or the reference it was resolved from.
   *
   * @throws ModuleTaskError `WEFT_MODULE_NOT_ALLOWED` when no loaded module under the roots exports the class.
   */
  serialize(task: TaskClass | TaskDefinition): SerializedTask {
    const def = definitionOf(task);
    const known = this.addresses.get(def.ctor);
    if (known) return { strategy: this.strategy, task: known };
    const cache = require.cache as Record<string, CachedModule | undefined>;
    for (const mod of Object.values(cache)) {
      const filename = mod?.filename;
      if (!filename) continue;
      const root = this.roots.find((r) => isWithin(r, filename));
      if (root === undefined) continue;
      const exported = mod.exports;
      if ((typeof exported !== 'object' && typeof exported !== 'function') || exported === null) continue;
      const exportName = Object.keys(exported).find((k) =>
        EXPORT_NAME_RE.test(k) && (exported as Record<string, unknown>)[k] === def.ctor);
      if (exportName === undefined) continue;
      let rel = path.relative(root, filename).split(path.sep).join('/');
      const ext = path.extname(rel);
      if (ext && Object.prototype.hasOwnProperty.call(require.extensions, ext)) rel = rel.slice(0, -ext.length);
      const ref = `./${rel}#${exportName}`;
      this.addresses.set(def.ctor, ref);
      return { strategy: this.strategy, task: ref };
    }
    throw new ModuleTaskError(TaskErrorCode.MODULE_NOT_ALLOWED, def.ref,
      `task ${def.ref} (class ${def.ctor.name}) is not exported by any loaded module under the allowlisted roots ` +
      `of resolver '${this.id}', so it has no module address. Export it from a file under ${this.roots.join(', ')}, ` +
      'or use the registry strategy.');
  }

  private parse(ref: string): { specifier: string; exportName: string } {
    const invalid = (why: string): never => {
      throw new ModuleTaskError(TaskErrorCode.TASK_REF_INVALID, ref,
        `module task reference ${quoteWire(ref)} is malformed: ${why}. Expected '<specifier>#<exportName>', e.g. './etl/extract#Extract'.`);
    };
    if (ref.length > MAX_MODULE_REF_LENGTH) invalid(`it is longer than ${MAX_MODULE_REF_LENGTH} characters`);
    const hash = ref.indexOf('#');
    if (hash < 0 || ref.indexOf('#', hash + 1) >= 0) invalid("it must contain exactly one '#'");
    const specifier = ref.slice(0, hash);
    const exportName = ref.slice(hash + 1);
    if (specifier === '') invalid('the specifier is empty');
    if (!EXPORT_NAME_RE.test(exportName)) invalid('the export name is not a JavaScript identifier');
    return { specifier, exportName };
  }

  private refuse(ref: string, why: string): never {
    throw new ModuleTaskError(TaskErrorCode.MODULE_NOT_ALLOWED, ref,
      `module task reference ${quoteWire(ref)} is refused by resolver '${this.id}': ${why}. Nothing was loaded. ` +
      'Only modules under the allowlisted roots, or allowlisted packages, can be loaded.');
  }

  /** Classifies a specifier from the wire without touching the file system. */
  private classify(ref: string, specifier: string): Located {
    if (specifier.includes('\0') || specifier.includes('\\')) this.refuse(ref, 'the specifier contains a NUL byte or a backslash');
    const segments = specifier.split('/');
    if (segments.includes('..')) this.refuse(ref, "the specifier contains a '..' segment");
    const clean = (parts: string[]): void => {
      if (parts.length === 0 || parts.some((s) => s === '' || s === '.')) this.refuse(ref, "the specifier has an empty or '.' segment");
    };
    if (specifier.startsWith('./')) {
      clean(segments.slice(1));
      return { kind: 'relative', rest: segments.slice(1).join(path.sep) };
    }
    if (specifier.startsWith('/') || path.isAbsolute(specifier)) {
      if (specifier.startsWith('/')) clean(segments.slice(1));
      const file = path.normalize(specifier);
      const lexicallyInside = this.roots.some((r) => isWithin(r, file));
      if (!lexicallyInside) this.refuse(ref, 'the absolute path is outside every allowlisted root');
      return { kind: 'absolute', file };
    }
    if (specifier.startsWith('.')) this.refuse(ref, "a relative specifier must start with './'");
    if (specifier.includes(':')) this.refuse(ref, 'URL schemes and node: builtins are not module specifiers Weft loads');
    const scoped = specifier.startsWith('@');
    const pkg = segments.slice(0, scoped ? 2 : 1).join('/');
    clean(segments);
    if (!PACKAGE_NAME_RE.test(pkg) || !this.packages.includes(pkg)) {
      this.refuse(ref, `the package ${quoteWire(pkg)} is not allowlisted (options.packages)`);
    }
    return { kind: 'package', specifier };
  }

  /** The real path of the file to load. Throws before loading anything that is not allowed. */
  private locate(ref: string, specifier: string): string {
    const where = this.classify(ref, specifier);
    if (where.kind === 'package') {
      try {
        return require.resolve(where.specifier, { paths: [this.resolveFrom] });
      } catch (cause) {
        throw new ModuleTaskError(TaskErrorCode.MODULE_NOT_FOUND, ref,
          `package module ${quoteWire(specifier)} cannot be found from ${this.resolveFrom}`, { cause });
      }
    }
    const candidates = where.kind === 'relative' ? this.roots.map((r) => path.join(r, where.rest)) : [where.file];
    for (const candidate of candidates) {
      let real: string;
      try {
        real = fs.realpathSync(require.resolve(candidate));
      } catch (e) {
        if (isNotFound(e)) continue;
        throw new ModuleTaskError(TaskErrorCode.MODULE_NOT_FOUND, ref,
          `module ${quoteWire(specifier)} cannot be resolved: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      if (!this.roots.some((r) => isWithin(r, real))) {
        this.refuse(ref, 'the module resolves (through a symlink or package.json) to a file outside every allowlisted root');
      }
      return real;
    }
    throw new ModuleTaskError(TaskErrorCode.MODULE_NOT_FOUND, ref,
      `no module ${quoteWire(specifier)} exists under the allowlisted roots of resolver '${this.id}'`);
  }

  /**
   * A module reference written by hand, checked for shape only (not resolved): for producers
   * whose task lives in an allowlisted package, which {@link serialize} cannot derive.
   *
   * @example
   * ```ts
   * ModuleTaskResolver.reference('@acme/etl-tasks/extract', 'Extract');
   * // { strategy: 'module', task: '@acme/etl-tasks/extract#Extract' }
   * ```
   */
  static reference(specifier: string, exportName: string): SerializedTask {
    if (typeof specifier !== 'string' || specifier === '' || specifier.includes('#') || !EXPORT_NAME_RE.test(exportName)) {
      throw new ModuleTaskError(TaskErrorCode.TASK_REF_INVALID, `${String(specifier)}#${String(exportName)}`,
        'a module reference needs a specifier without \'#\' and an export name that is a JavaScript identifier.');
    }
    return { strategy: 'module', task: `${specifier}#${exportName}` };
  }
}

/**
 * Maps resolver ids to resolvers, and routes each message to the one its `resolver_id` names
 * (`'default'` when it names none).
 *
 * @remarks
 * A worker needs nothing else to turn a message into code: no knowledge of the producer's process.
 * Registering two resolvers under one id is an error raised at startup.
 *
 * @example
 * ```ts
 * const resolvers = new ResolverRegistry([
 *   new RegistryTaskResolver({ tasks: [Extract, Load] }),           // id 'default'
 *   new ModuleTaskResolver({ roots: ['./dist/tasks'] }),             // id 'module'
 * ]);
 * const address = resolvers.serialize(Extract);                     // { resolverId: 'default', strategy: 'registry', task: 'etl.extract@1' }
 * const def = resolvers.resolve(envelope);                          // picks by envelope.resolverId
 * ```
 */
export class ResolverRegistry {
  private readonly byId = new Map<string, TaskResolver>();

  /** @throws ResolverConfigError `WEFT_RESOLVER_DUPLICATE` when two resolvers share an id. */
  constructor(resolvers: Iterable<TaskResolver> = []) {
    for (const r of resolvers) this.register(r);
  }

  /**
   * A registry with one `registry`-strategy resolver under the default id, holding these tasks.
   *
   * @example
   * ```ts
   * const resolvers = ResolverRegistry.of(Extract, Load);
   * ```
   */
  static of(...tasks: TaskClass[]): ResolverRegistry {
    return new ResolverRegistry([new RegistryTaskResolver({ tasks })]);
  }

  /**
   * Adds a resolver under its own id.
   * @throws ResolverConfigError `WEFT_RESOLVER_DUPLICATE` when the id is taken by another resolver.
   */
  register(resolver: TaskResolver): this {
    const id = assertResolverId(resolver?.id);
    const existing = this.byId.get(id);
    if (existing && existing !== resolver) {
      throw new ResolverConfigError(TaskErrorCode.RESOLVER_DUPLICATE,
        `a resolver is already registered under id '${id}' (strategy '${existing.strategy}'). Give each resolver its own id.`);
    }
    this.byId.set(id, resolver);
    return this;
  }

  /** True when a resolver is registered under `id`. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** The registered ids, in registration order. */
  ids(): readonly string[] {
    return [...this.byId.keys()];
  }

  /**
   * The resolver registered under `id`.
   * @throws ResolverError `WEFT_RESOLVER_UNKNOWN`.
   */
  get(id: string = DEFAULT_RESOLVER_ID): TaskResolver {
    const resolver = this.byId.get(id);
    if (!resolver) {
      throw new ResolverError(TaskErrorCode.RESOLVER_UNKNOWN, String(id),
        `no task resolver is registered under id ${quoteWire(id)} (registered: ${this.ids().map((i) => `'${i}'`).join(', ') || 'none'}). ` +
        'Register a resolver with that id on the worker, or send with a resolver id the worker has.');
    }
    return resolver;
  }

  /**
   * The task a message names: picks the resolver by `resolverId` (`'default'` when empty), checks
   * that it implements the message's strategy, and lets it resolve the `task` reference.
   *
   * @throws ResolverError `WEFT_RESOLVER_UNKNOWN` / `WEFT_STRATEGY_MISMATCH`, and whatever the
   *   resolver throws (`WEFT_TASK_UNKNOWN`, `WEFT_MODULE_NOT_ALLOWED`, ...). All coded.
   */
  resolve(envelope: SerializedTask & { readonly resolverId?: string }): TaskDefinition {
    const resolver = this.get(envelope.resolverId || DEFAULT_RESOLVER_ID);
    if (envelope.strategy !== resolver.strategy) {
      throw new ResolverError(TaskErrorCode.STRATEGY_MISMATCH, resolver.id,
        `resolver '${resolver.id}' reads the '${resolver.strategy}' strategy, but the message uses ` +
        `${quoteWire(envelope.strategy)}. Producer and worker must agree on the resolver id and its strategy.`);
    }
    return resolver.resolve({ strategy: envelope.strategy, task: envelope.task });
  }

  /**
   * The routing fields of an envelope for a task: the resolver id and what that resolver writes.
   * @throws ResolverError `WEFT_RESOLVER_UNKNOWN`.
   */
  serialize(task: TaskClass | TaskDefinition, resolverId: string = DEFAULT_RESOLVER_ID): TaskAddress {
    const resolver = this.get(resolverId);
    const s = resolver.serialize(task);
    return { resolverId: resolver.id, strategy: s.strategy, task: s.task };
  }
}
