import type { CompatibilityMode } from '../schema/compat';

/** One entry of a subject's version history, as the store keeps it (ids only, no bytes). */
export interface StoredVersion {
  /** 1 for the first schema registered under the subject, then 2, 3, ... with no gaps. */
  readonly version: number;
  /** The schema id registered at this version. */
  readonly id: string;
}

/**
 * The outcome of {@link SchemaStore.addVersion}.
 *
 * - `added`: the id is now the subject's newest version, `version`.
 * - `exists`: the id was already registered under the subject, at `version`; nothing changed.
 * - `conflict`: the subject's latest version is `latestVersion`, not the expected one; nothing
 *   changed. The caller re-reads the history, re-checks compatibility and tries again.
 */
export type AddVersionResult =
  | { readonly status: 'added'; readonly version: number }
  | { readonly status: 'exists'; readonly version: number }
  | { readonly status: 'conflict'; readonly latestVersion: number };

/**
 * The storage port behind {@link SchemaRegistry}: a content-addressed map of schema bytes plus a
 * version history and a compatibility mode per subject.
 *
 * @remarks
 * Implementations are plain storage. They must:
 * - keep `putSchema` idempotent, first writer wins (ids are content hashes, so a second write of
 *   the same id carries the same bytes and is simply ignored);
 * - make `addVersion` one atomic compare-and-set, so that two processes racing to add versions
 *   never both win the same version number, never lose a version and never register an id twice;
 * - return bytes exactly as stored.
 *
 * What a store does NOT do (the registry does it): hash verification of fetched bytes, parsing
 * descriptors, compatibility checks, caching, negative caching, retries on conflict, and checking
 * that a subject's versions point at ids present in the schema map (the registry always writes
 * the bytes before the version). A store does not delete schemas or versions either: there is no
 * deletion in the port, because ids may still be referenced by messages in flight.
 *
 * Plugins implement this port: `plugins/memory` (embedded) and `plugins/redis` (the wire
 * contract's `<prefix>:schemas` hash).
 */
export interface SchemaStore {
  /** A short, unique name for the implementation, e.g. `memory` or `redis`. */
  readonly name: string;

  /** Optional start-up work (connect, load scripts). Called once before any other method. */
  init?(): Promise<void>;

  /** Releases what the store owns. Resources it was handed (an existing client) stay open. */
  close(): Promise<void>;

  /**
   * Stores schema bytes under their id unless the id is already present (first writer wins).
   *
   * @returns `true` when this call wrote the entry, `false` when it was already there.
   */
  putSchema(id: string, bytes: Uint8Array): Promise<boolean>;

  /** The bytes stored under `id`, or `undefined` when there are none. No verification is done. */
  getSchema(id: string): Promise<Uint8Array | undefined>;

  /** {@link getSchema} for many ids in one round trip; results are in the order of `ids`. */
  getSchemas(ids: readonly string[]): Promise<(Uint8Array | undefined)[]>;

  /** The subject's versions in ascending order; empty for an unknown subject. */
  listVersions(subject: string): Promise<StoredVersion[]>;

  /** The mode set for the subject, or `undefined` when none was set (the registry then applies its default). */
  getMode(subject: string): Promise<CompatibilityMode | undefined>;

  /** Sets the subject's compatibility mode. */
  setMode(subject: string, mode: CompatibilityMode): Promise<void>;

  /**
   * Atomically appends `id` as version `expectedLatestVersion + 1` of `subject`, provided that:
   * the id is not already registered under the subject (else `exists` with its version), and the
   * subject's latest version is still `expectedLatestVersion` (else `conflict`). Use `0` for a
   * subject with no versions yet.
   */
  addVersion(subject: string, id: string, expectedLatestVersion: number): Promise<AddVersionResult>;
}
