/**
 * Connections for blocking reads (`XREAD BLOCK`, `XREADGROUP BLOCK`): a blocked command holds its
 * connection, so it must never run on the shared client. The pool hands out duplicates of the
 * shared client and keeps a few idle ones for reuse.
 *
 * @packageDocumentation
 */
import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import type { RedisClientLike } from './connection';

/** Duplicates of one client for blocking reads; `close()` disconnects them all. */
export class BlockerPool {
  private readonly idle: RedisClientLike[] = [];
  private readonly open = new Set<RedisClientLike>();
  private closed = false;

  /**
   * @param client - the shared client the connections duplicate.
   * @param maxIdle - most idle connections kept; more concurrent reads open more, closed after use.
   */
  constructor(private readonly client: RedisClientLike, private readonly maxIdle: number) {}

  /** An idle connection, or a new duplicate of the client. Give it back with {@link release} or {@link discard}. */
  acquire(): RedisClientLike {
    const idle = this.idle.pop();
    if (idle) return idle;
    const c: RedisClientLike = this.client.isCluster ? (this.client as Cluster).duplicate() : (this.client as Redis).duplicate();
    c.on('error', () => { /* surfaced by the failing command */ });
    this.open.add(c);
    return c;
  }

  /** Takes a connection back: kept idle, or disconnected when the pool is full, closed, or the connection ended. */
  release(c: RedisClientLike): void {
    if (this.closed || this.idle.length >= this.maxIdle || c.status === 'end') {
      this.discard(c);
      return;
    }
    this.idle.push(c);
  }

  /** Disconnects a connection at once (a blocked command on it cannot be taken back otherwise). */
  discard(c: RedisClientLike): void {
    this.open.delete(c);
    c.disconnect();
  }

  /** Disconnects every connection: a blocked read on one of them ends with a connection error. */
  close(): void {
    this.closed = true;
    for (const c of this.open) c.disconnect();
    this.open.clear();
    this.idle.length = 0;
  }
}
