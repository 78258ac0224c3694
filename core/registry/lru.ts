/**
 * A small least-recently-used map: reads refresh an entry, and once `maxSize` entries are held the
 * least recently used one is evicted. Used by the registry to keep its caches bounded.
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();

  /** @param maxSize the most entries kept; at least 1. */
  constructor(readonly maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new RangeError(`LruCache maxSize must be a positive integer, got ${maxSize}`);
  }

  /** The value under `key` (and marks it as recently used), or `undefined`. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  /** Stores a value, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.maxSize) this.map.delete(this.map.keys().next().value as K);
  }

  /** Removes an entry. */
  delete(key: K): boolean {
    return this.map.delete(key);
  }

  /** How many entries are held. */
  get size(): number {
    return this.map.size;
  }

  /** Removes everything. */
  clear(): void {
    this.map.clear();
  }
}
