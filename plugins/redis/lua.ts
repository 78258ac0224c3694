/**
 * Lua scripts of the Redis components, sent by `EVALSHA` with an `EVAL` fallback on `NOSCRIPT`.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import type { RedisClientLike } from './connection';

/** A Lua script and its SHA1. */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

/** A script with its SHA1 computed once, at module load. */
export function luaScript(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Runs a script with `EVALSHA`, and with `EVAL` when the server does not have it yet (`NOSCRIPT`:
 * after a restart or `SCRIPT FLUSH`, which also loads it for the next call). Bulk replies come back
 * as Buffers.
 */
export async function evalScript(
  client: RedisClientLike, s: LuaScript, keys: readonly string[], args: readonly (string | Buffer | number)[],
): Promise<unknown> {
  try {
    return await client.callBuffer('EVALSHA', s.sha, keys.length, ...keys, ...args);
  } catch (e) {
    if (!String((e as Error)?.message).startsWith('NOSCRIPT')) throw e;
    return client.callBuffer('EVAL', s.lua, keys.length, ...keys, ...args);
  }
}
