/**
 * Lua scripts of the Redis Streams transport. Each touches one key only (`KEYS[1]`, a queue's
 * stream), so each is atomic and Redis Cluster safe, and each costs one round trip.
 *
 * @packageDocumentation
 */
import { luaScript } from './lua';

export type { LuaScript } from './lua';
const script = luaScript;

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

/**
 * Publish a batch: one `XADD` per message, all in one script call, so the client builds one command
 * (and parses one reply) per batch instead of one per message. The messages share their field
 * names, which are passed once.
 *
 * KEYS[1] stream. ARGV: maxLen (`0` = no trimming), field count n, the n names, then n values per
 * message. Returns the entry ids, in order.
 */
export const PUBLISH = script(`
local key = KEYS[1]
local maxLen = ARGV[1]
local n = tonumber(ARGV[2])
local args = {}
local base = 0
if maxLen ~= '0' then
  args = {'MAXLEN', '~', maxLen, '*'}
  base = 4
else
  args = {'*'}
  base = 1
end
for i = 1, n do args[base + 2 * i - 1] = ARGV[2 + i] end
local out = {}
local m = 0
local j = 3 + n
while j + n - 1 <= #ARGV do
  for i = 1, n do args[base + 2 * i] = ARGV[j + i - 1] end
  m = m + 1
  out[m] = redis.call('XADD', key, unpack(args, 1, base + 2 * n))
  j = j + n
end
return out
`);

/**
 * Ack with follow-ups: the follow-up messages (results, next steps) are added first, then the ids
 * are acked, atomically and in one round trip.
 *
 * KEYS[1] the acked stream, KEYS[2..] the follow-up streams. ARGV: group, maxLen (`0` = no
 * trimming), id count k, the k ids, then per follow-up message: its key's index in KEYS, its field
 * count n, then n name/value pairs. Returns the number of ids acked.
 */
export const ACK_FOLLOW = script(`
local group, maxLen = ARGV[1], ARGV[2]
local k = tonumber(ARGV[3])
local j = 4 + k
while j <= #ARGV do
  local key = KEYS[tonumber(ARGV[j])]
  local n = tonumber(ARGV[j + 1])
  local args = {}
  if maxLen ~= '0' then args = {'XADD', key, 'MAXLEN', '~', maxLen, '*'} else args = {'XADD', key, '*'} end
  local base = #args
  for i = 1, 2 * n do args[base + i] = ARGV[j + 1 + i] end
  redis.call(unpack(args))
  j = j + 2 + 2 * n
end
if k == 0 then return 0 end
local ids = {}
for i = 1, k do ids[i] = ARGV[3 + i] end
local acked = 0
local i = 1
while i <= k do
  local last = math.min(i + 999, k)
  acked = acked + redis.call('XACK', KEYS[1], group, unpack(ids, i, last))
  i = last + 1
end
return acked
`);

/**
 * Read a batch without blocking, packed: `XREADGROUP ... COUNT n STREAMS key >` run in the script,
 * its entries returned as one MessagePack string (Redis's built-in `cmsgpack`) instead of one bulk
 * string per id, name and value, which is about 2.5 times cheaper for the client to parse (see
 * docs/redis-streams.md). The consumer uses it while a backlog lasts, and a blocking
 * `XREADGROUP` when the queue runs dry (scripts cannot block).
 *
 * KEYS[1] stream. ARGV: group, consumer, count, a `MINID` threshold or `''`, a TTL in ms for the
 * stream key or `''` (`expireMs`), then ids to `XACK`
 * before reading (the consumer's previous batch); with a threshold, `XTRIM MINID` then deletes the
 * entries below it (`trimAcked`). Returns `false` when there is nothing new, else the MessagePack array of entries,
 * each `[id, [name, value, name, value, ...]]`, every id, name and value a MessagePack string.
 */
export const READ_PACKED = script(`
if ARGV[5] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
if #ARGV > 5 then
  local i = 6
  while i <= #ARGV do
    local last = math.min(i + 999, #ARGV)
    redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, i, last))
    i = last + 1
  end
  if ARGV[4] ~= '' then redis.call('XTRIM', KEYS[1], 'MINID', ARGV[4]) end
end
local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not r or not r[1] or #r[1][2] == 0 then return false end
return cmsgpack.pack(r[1][2])
`);
