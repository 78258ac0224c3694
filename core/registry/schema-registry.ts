import { WeftError } from '../../decorators/errors';
import {
  ErrorCode, SchemaCorruptError, SchemaIncompatibleError, SchemaInvalidError, SchemaNotFoundError,
} from '../errors';
import type { CompatibilityIssue } from '../errors';
import { checkCompatibility, CompatibilityMode, SubjectVersion } from '../schema/compat';
import { decodeFileDescriptor } from '../schema/descriptor';
import { isSchemaId, verifySchemaId } from '../schema/schema-id';
import { LruCache } from './lru';
import type { SchemaStore, StoredVersion } from './schema-store';

/** Every compatibility mode, in the spelling the registry accepts. */
export const COMPATIBILITY_MODES: readonly CompatibilityMode[] = Object.freeze([
  'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE',
]);

/**
 * What {@link SchemaRegistry.register} needs: the subject (the root message's full name), the
 * schema id and the canonical `FileDescriptorProto` bytes. A {@link Schema} from `schemaOf(Class)`
 * fits as is; hand-built descriptors fit too.
 */
export interface SchemaInput {
  /** The subject: the fully-qualified name of the file's root message, e.g. `shop.Order`. */
  readonly fullName: string;
  /** The schema id; must be the hash of `bytes` (see `schemaIdOf`). */
  readonly id: string;
  /** Serialized `FileDescriptorProto`. */
  readonly bytes: Uint8Array;
}

/** The result of registering a schema under its subject. */
export interface RegisterResult {
  readonly subject: string;
  readonly id: string;
  /** The subject version that holds the id. */
  readonly version: number;
  /** `true` when this call added the version; `false` when the id was already registered. */
  readonly created: boolean;
}

/** A schema fetched by id, verified and parsed. */
export interface ResolvedSchema {
  readonly id: string;
  /** The stored bytes; they hash to `id`. */
  readonly bytes: Uint8Array;
  /** The parsed `FileDescriptorProto` as a plain object (camelCase keys, see `decodeFileDescriptor`). */
  readonly file: Record<string, unknown>;
  /** The file's proto package (empty string when none). */
  readonly package: string;
  /** Fully-qualified names of the file's top-level messages. */
  readonly messageNames: readonly string[];
}

/** The compatibility check the registry applies; defaults to `checkCompatibility` from `core/schema/compat`. */
export type CompatibilityChecker = (
  subject: string, candidate: Uint8Array, history: readonly SubjectVersion[], mode: CompatibilityMode,
) => CompatibilityIssue[];

/** Tuning for {@link SchemaRegistry}. Every field is optional. */
export interface SchemaRegistryOptions {
  /** Mode of a subject that has none set in the store. Default `BACKWARD`. */
  readonly defaultMode?: CompatibilityMode;
  /** Most resolved schemas kept in the local LRU cache. Default 1000. */
  readonly maxCachedSchemas?: number;
  /**
   * How long (ms) an id found missing or corrupt in the store is remembered: during this time,
   * `resolve` of that id fails at once without asking the store again, so a flood of unknown ids
   * costs one store read per id per TTL. Default 2000 ms; 0 disables negative caching.
   */
  readonly notFoundTtlMs?: number;
  /** Most ids held in the negative cache (LRU). Default 10000. */
  readonly maxNotFound?: number;
  /** Most schema ids remembered by `ensure` (LRU); an evicted id is registered again on its next `ensure`. Default 10000. */
  readonly maxEnsured?: number;
  /** How many compare-and-set attempts `register` makes before giving up with {@link RegistryConflictError}. Default 25. */
  readonly maxRegisterAttempts?: number;
  /** Replaces the compatibility check (tests, custom policies). */
  readonly checkCompatibility?: CompatibilityChecker;
  /** Clock in ms, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

/** `register` kept losing the compare-and-set race on a subject (code `WEFT_REGISTRY_CONFLICT`). */
export class RegistryConflictError extends WeftError {
  constructor(readonly subject: string, readonly attempts: number) {
    super(ErrorCode.REGISTRY_CONFLICT,
      `could not register a new version of ${subject}: its latest version kept changing during ` +
      `${attempts} attempts. Another process is registering versions in a loop; retry later.`);
  }
}

interface NegativeEntry { readonly until: number; readonly error: Error }

/**
 * The schema registry: registers schemas under their subject with compatibility checks, and
 * resolves schema ids to verified, parsed descriptors, over any {@link SchemaStore}.
 *
 * @remarks
 * - `register` checks the candidate against the subject's history under the subject's mode
 *   (default `BACKWARD`), writes the bytes (first writer wins), then appends the version with a
 *   compare-and-set; when another process moved the latest version meanwhile, it re-reads the
 *   history and checks again, so compatibility is always judged against the true latest.
 *   Registering an id that is already a version of its subject returns that version.
 * - `ensure` is `register` at most once per process per schema id: concurrent callers share one
 *   promise; a failure is forgotten so the next call retries.
 * - `resolve` serves from a bounded LRU cache; on a miss, concurrent callers share one store read.
 *   Fetched bytes are hashed again (mismatch or unparsable bytes: {@link SchemaCorruptError}).
 *   Missing ids ({@link SchemaNotFoundError}) and corrupt ones are remembered for
 *   `notFoundTtlMs`. Ids that are not well-formed are refused without a store read.
 * - Memory is bounded by `maxCachedSchemas`, `maxNotFound` and `maxEnsured`.
 * - The registry does not own the store: closing it is the caller's job.
 *
 * @example
 * ```ts
 * const registry = new SchemaRegistry(new MemorySchemaStore());
 * const { version } = await registry.ensure(schemaOf(Order));
 * const resolved = await registry.resolve(schemaOf(Order).id);
 * ```
 */
export class SchemaRegistry {
  private readonly defaultMode: CompatibilityMode;
  private readonly notFoundTtlMs: number;
  private readonly maxAttempts: number;
  private readonly checker: CompatibilityChecker;
  private readonly now: () => number;
  private readonly cache: LruCache<string, ResolvedSchema>;
  private readonly negative: LruCache<string, NegativeEntry>;
  private readonly ensured: LruCache<string, Promise<RegisterResult>>;
  private readonly inflight = new Map<string, Promise<ResolvedSchema>>();

  constructor(readonly store: SchemaStore, options: SchemaRegistryOptions = {}) {
    this.defaultMode = assertMode(options.defaultMode ?? 'BACKWARD');
    this.notFoundTtlMs = options.notFoundTtlMs ?? 2000;
    this.maxAttempts = options.maxRegisterAttempts ?? 25;
    this.checker = options.checkCompatibility ?? checkCompatibility;
    this.now = options.now ?? Date.now;
    this.cache = new LruCache(options.maxCachedSchemas ?? 1000);
    this.negative = new LruCache(options.maxNotFound ?? 10_000);
    this.ensured = new LruCache(options.maxEnsured ?? 10_000);
  }

  /**
   * Registers a schema under its subject (`schema.fullName`), checking compatibility first.
   * Idempotent: registering an id that the subject already holds returns its version.
   *
   * @throws SchemaInvalidError when the id does not hash from the bytes, the bytes do not parse,
   *   or the file does not define the subject's message.
   * @throws SchemaIncompatibleError when the schema breaks the subject's mode; nothing is written.
   * @throws RegistryConflictError after `maxRegisterAttempts` lost compare-and-set races.
   */
  async register(schema: SchemaInput): Promise<RegisterResult> {
    const resolved = this.checkInput(schema);
    const subject = schema.fullName;
    let written = false;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const versions = await this.store.listVersions(subject);
      const existing = versions.find((v) => v.id === schema.id);
      if (existing) {
        this.cache.set(schema.id, resolved);
        return { subject, id: schema.id, version: existing.version, created: false };
      }
      const mode = await this.getMode(subject);
      if (mode !== 'NONE' && versions.length > 0) {
        const history = await this.historyOf(versions);
        const issues = this.checker(subject, schema.bytes, history, mode);
        if (issues.length > 0) throw new SchemaIncompatibleError(subject, mode, issues);
      }
      if (!written) {
        await this.store.putSchema(schema.id, schema.bytes);
        written = true;
      }
      const latest = versions.length ? versions[versions.length - 1].version : 0;
      const r = await this.store.addVersion(subject, schema.id, latest);
      if (r.status !== 'conflict') {
        this.cache.set(schema.id, resolved);
        this.negative.delete(schema.id);
        return { subject, id: schema.id, version: r.version, created: r.status === 'added' };
      }
      await sleep(Math.floor(Math.random() * 3 * attempt));
    }
    throw new RegistryConflictError(subject, this.maxAttempts);
  }

  /**
   * {@link register}, at most once per process per schema id. Concurrent callers share one
   * promise; after a failure the id is forgotten, so a later call tries again.
   */
  ensure(schema: SchemaInput): Promise<RegisterResult> {
    const hit = this.ensured.get(schema.id);
    if (hit) return hit;
    const p: Promise<RegisterResult> = this.register(schema).catch((e: unknown) => {
      if (this.ensured.get(schema.id) === p) this.ensured.delete(schema.id);
      throw e;
    });
    this.ensured.set(schema.id, p);
    return p;
  }

  /**
   * The verified, parsed schema stored under `id`.
   *
   * @throws SchemaNotFoundError when the store has no such id (or the id is malformed).
   * @throws SchemaCorruptError when the stored bytes do not hash to `id` or do not parse.
   */
  resolve(id: string): Promise<ResolvedSchema> {
    const hit = this.cache.get(id);
    if (hit) return Promise.resolve(hit);
    const known = this.knownFailure(id);
    if (known) return Promise.reject(known);
    const pending = this.inflight.get(id);
    if (pending) return pending;
    const p = this.store.getSchema(id)
      .then((bytes) => this.accept(id, bytes))
      .finally(() => { this.inflight.delete(id); });
    this.inflight.set(id, p);
    return p;
  }

  /**
   * Resolves many ids with at most one batched store read for those not cached, known missing or
   * already being fetched. Each id settles on its own, so one bad id does not fail the others.
   */
  async resolveMany(ids: readonly string[]): Promise<PromiseSettledResult<ResolvedSchema>[]> {
    const promises = new Map<string, Promise<ResolvedSchema>>();
    const toFetch: string[] = [];
    const settle = new Map<string, { resolve: (r: ResolvedSchema) => void; reject: (e: unknown) => void }>();
    for (const id of ids) {
      if (promises.has(id)) continue;
      const hit = this.cache.get(id);
      const known = hit ? undefined : this.knownFailure(id);
      const pending = hit || known ? undefined : this.inflight.get(id);
      if (hit) promises.set(id, Promise.resolve(hit));
      else if (known) promises.set(id, Promise.reject(known));
      else if (pending) promises.set(id, pending);
      else {
        const p = new Promise<ResolvedSchema>((resolve, reject) => settle.set(id, { resolve, reject }))
          .finally(() => { this.inflight.delete(id); });
        this.inflight.set(id, p);
        promises.set(id, p);
        toFetch.push(id);
      }
    }
    for (const p of promises.values()) p.catch(() => { /* settled below */ });
    if (toFetch.length > 0) {
      try {
        const all = await this.store.getSchemas(toFetch);
        toFetch.forEach((id, i) => {
          try { settle.get(id)!.resolve(this.accept(id, all[i])); } catch (e) { settle.get(id)!.reject(e); }
        });
      } catch (e) {
        for (const s of settle.values()) s.reject(e);
      }
    }
    return Promise.allSettled(ids.map((id) => promises.get(id)!));
  }

  /** The subject's compatibility mode: the one set in the store, else the registry's default. */
  async getMode(subject: string): Promise<CompatibilityMode> {
    return (await this.store.getMode(subject)) ?? this.defaultMode;
  }

  /** Sets a subject's compatibility mode; it applies to the next registration. */
  async setMode(subject: string, mode: CompatibilityMode): Promise<void> {
    await this.store.setMode(subject, assertMode(mode));
  }

  /** The subject's versions, ascending; empty for an unknown subject. */
  versions(subject: string): Promise<StoredVersion[]> {
    return this.store.listVersions(subject);
  }

  private knownFailure(id: string): Error | undefined {
    if (!isSchemaId(id)) return new SchemaNotFoundError(String(id));
    const neg = this.negative.get(id);
    if (!neg) return undefined;
    if (neg.until > this.now()) return neg.error;
    this.negative.delete(id);
    return undefined;
  }

  private remember(id: string, error: Error): Error {
    if (this.notFoundTtlMs > 0) this.negative.set(id, { until: this.now() + this.notFoundTtlMs, error });
    return error;
  }

  /** Verifies and parses fetched bytes, caching the outcome. */
  private accept(id: string, bytes: Uint8Array | undefined): ResolvedSchema {
    if (bytes === undefined) throw this.remember(id, new SchemaNotFoundError(id));
    if (!verifySchemaId(id, bytes)) {
      throw this.remember(id, new SchemaCorruptError(id, 'the stored bytes do not hash to the schema id'));
    }
    let resolved: ResolvedSchema;
    try {
      resolved = parse(id, bytes);
    } catch (cause) {
      throw this.remember(id, new SchemaCorruptError(id, 'the stored bytes are not a FileDescriptorProto', { cause }));
    }
    this.cache.set(id, resolved);
    return resolved;
  }

  private async historyOf(versions: readonly StoredVersion[]): Promise<SubjectVersion[]> {
    return Promise.all(versions.map(async (v) => ({ version: v.version, id: v.id, bytes: (await this.resolve(v.id)).bytes })));
  }

  private checkInput(schema: SchemaInput): ResolvedSchema {
    const { fullName, id, bytes } = schema;
    if (typeof fullName !== 'string' || fullName.length === 0) {
      throw new SchemaInvalidError('a schema needs a non-empty fullName (its subject)');
    }
    if (!(bytes instanceof Uint8Array) || !verifySchemaId(id, bytes)) {
      throw new SchemaInvalidError(`schema id ${id} of ${fullName} is not the hash of its bytes`);
    }
    let resolved: ResolvedSchema;
    try {
      resolved = parse(id, bytes);
    } catch (cause) {
      throw new SchemaInvalidError(`the bytes of ${fullName} are not a FileDescriptorProto`, { cause });
    }
    if (!resolved.messageNames.includes(fullName)) {
      throw new SchemaInvalidError(`the descriptor of schema ${id} does not define the top-level message ${fullName}`);
    }
    return resolved;
  }
}

function parse(id: string, bytes: Uint8Array): ResolvedSchema {
  const file = decodeFileDescriptor(bytes);
  const pkg = typeof file.package === 'string' ? file.package : '';
  const messages = Array.isArray(file.messageType) ? (file.messageType as { name?: unknown }[]) : [];
  const messageNames = messages
    .map((m) => (typeof m.name === 'string' ? (pkg ? `${pkg}.${m.name}` : m.name) : ''))
    .filter((n) => n.length > 0);
  return Object.freeze({ id, bytes, file, package: pkg, messageNames: Object.freeze(messageNames) });
}

function assertMode(mode: CompatibilityMode): CompatibilityMode {
  if (!COMPATIBILITY_MODES.includes(mode)) {
    throw new SchemaInvalidError(`unknown compatibility mode '${String(mode)}'; use one of ${COMPATIBILITY_MODES.join(', ')}`);
  }
  return mode;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

