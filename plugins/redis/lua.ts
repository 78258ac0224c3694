/**
 * Lua scripts of the Redis components, sent by `EVALSHA` with an `EVAL` fallback on `NOSCRIPT`.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';

/** A Lua script and its SHA1. */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

/** A script with its SHA1 computed once, at module load. */
export function luaScript(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}
