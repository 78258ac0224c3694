/**
 * Lua scripts of the Redis Streams transport. Each touches one key only (`KEYS[1]`, a queue's
 * stream), so each is atomic and Redis Cluster safe, and each costs one round trip.
 *
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';

/** A Lua script and its SHA1, for `EVALSHA` with an `EVAL` fallback on `NOSCRIPT`. */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

function script(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Reclaim: `XAUTOCLAIM` in a loop, then each claimed entry's delivery count from `XPENDING`
 * (which `XAUTOCLAIM` has just incremented), all in one round trip.
 *
 * KEYS[1] stream. ARGV: group, consumer, min idle ms, count wanted, start cursor, most rounds.
 * The cursor goes around the pending list at most once per call (it wraps to `0-0` at most once).
 * Returns `{next cursor, {{id, flat fields, deliveries}, ...}}`. Entries deleted from the stream
 * (trimmed by `MAXLEN`) are dropped from the pending list by `XAUTOCLAIM` and not returned.
 */
export const RECLAIM = script(`
local key = KEYS[1]
local group, consumer, minIdle = ARGV[1], ARGV[2], ARGV[3]
local want = tonumber(ARGV[4])
local cursor = ARGV[5]
local rounds = tonumber(ARGV[6])
local wrapped = cursor == '0-0'
local out = {}
local n = 0
for _ = 1, rounds do
  local r = redis.call('XAUTOCLAIM', key, group, consumer, minIdle, cursor, 'COUNT', want - n)
  cursor = r[1]
  for _, e in ipairs(r[2]) do
    if e[2] then
      local p = redis.call('XPENDING', key, group, e[1], e[1], 1)
      local deliveries = 1
      if p[1] then deliveries = p[1][4] end
      n = n + 1
      out[n] = {e[1], e[2], deliveries}
    end
  end
  if n >= want then break end
  if cursor == '0-0' then
    if wrapped then break end
    wrapped = true
  end
end
return {cursor, out}
`);

/**
 * Touch (heartbeat): resets the idle time of the given pending entries that the consumer still
 * owns (`XCLAIM ... 0 ids JUSTID`, which does not increment delivery counts). Entries another
 * consumer has reclaimed in the meantime are left alone, so a stale heartbeat never steals work back.
 *
 * KEYS[1] stream. ARGV: group, consumer, id... Returns how many entries were refreshed.
 */
export const TOUCH = script(`
local key = KEYS[1]
local group, consumer = ARGV[1], ARGV[2]
local own = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', key, group, ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == consumer then own[#own + 1] = ARGV[i] end
end
local done = 0
local i = 1
while i <= #own do
  local args = {key, group, consumer, 0}
  local last = math.min(i + 499, #own)
  for j = i, last do args[#args + 1] = own[j] end
  args[#args + 1] = 'JUSTID'
  done = done + #redis.call('XCLAIM', unpack(args))
  i = last + 1
end
return done
`);
