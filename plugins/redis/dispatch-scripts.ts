/**
 * Lua scripts of the Redis dispatch store. Each runs atomically over `KEYS[1]`, one record's hash,
 * and `KEYS[2]`, the prefix's index of non-terminal records (see {@link RedisDispatchStore} for
 * the layout and the Redis Cluster caveat of the index).
 *
 * @packageDocumentation
 */
import { luaScript, type LuaScript } from './lua';

/**
 * Lua: `historyEntry(now, from, to, attempt, err)`, a record's history entry as JSON
 * (`{"atMs":…,"from":…,"to":…,"attempt":…[,"error":<err JSON>]}`), the format `RedisDispatchStore`
 * reads. Every script that writes a transition (this file's and the ledger's) builds it here.
 */
export const HISTORY_ENTRY = `
local function historyEntry(now, from, to, attempt, err)
  local entry = '{"atMs":' .. now .. ',"from":"' .. from .. '","to":"' .. to .. '","attempt":' .. attempt
  if err then entry = entry .. ',"error":' .. err end
  return entry .. '}'
end
`;

/** A dispatch-store script (see `lua.ts`). */
export type DispatchLuaScript = LuaScript;
const script = luaScript;

/**
 * Idempotent insert.
 *
 * KEYS[1] record hash, KEYS[2] index. ARGV[1] score (`created_at_ms`), ARGV[2..] field/value pairs.
 * Returns the integer 1 when it created the record, or the existing hash (`HGETALL`, a flat array)
 * when the key was taken; then nothing is written.
 */
export const CREATE = script(`
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HGETALL', KEYS[1]) end
local args = {}
for i = 2, #ARGV do
  args[#args + 1] = ARGV[i]
  if #args >= 200 then
    redis.call('HSET', KEYS[1], unpack(args))
    args = {}
  end
end
if #args > 0 then redis.call('HSET', KEYS[1], unpack(args)) end
redis.call('ZADD', KEYS[2], ARGV[1], KEYS[1])
return 1
`);

/**
 * Compare-and-set transition. The caller has already checked that `from -> to` is a legal edge.
 *
 * KEYS[1] record hash, KEYS[2] index. ARGV: [1] from, [2] to, [3] now ms, [4] new attempt or ''
 * to keep the stored one, [5] '1' when `to` is terminal, [6] history limit, [7] the error as JSON
 * or '', [8] '1' when a result follows, [9] result bytes, [10] result schema id, [11] result type,
 * [12] retention ms of a terminal record (`0`: kept until deleted; a non-terminal one never expires).
 *
 * Returns `{0}` when there is no record, `{1, hash}` when the record is not in `from` (nothing
 * written), `{2, hash}` with the updated hash on success. The history entry is one hash field
 * `h:<n>`, n = the record's transition count; the entry `h:<n - limit>` is deleted, so at most
 * `limit` entries are kept.
 */
export const TRANSITION = script(HISTORY_ENTRY + `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {0} end
if state ~= ARGV[1] then return {1, redis.call('HGETALL', KEYS[1])} end
local attempt = ARGV[4]
if attempt == '' then attempt = redis.call('HGET', KEYS[1], 'attempt') end
local n = redis.call('HINCRBY', KEYS[1], 'transition_count', 1)
local err = nil
if ARGV[7] ~= '' then err = ARGV[7] end
local entry = historyEntry(ARGV[3], ARGV[1], ARGV[2], attempt, err)
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'attempt', attempt, 'updated_at_ms', ARGV[3], 'h:' .. n, entry)
local limit = tonumber(ARGV[6])
if n > limit then redis.call('HDEL', KEYS[1], 'h:' .. (n - limit)) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'last_error', ARGV[7]) end
if ARGV[8] == '1' then
  redis.call('HSET', KEYS[1], 'result_bytes', ARGV[9], 'result_schema_id', ARGV[10], 'result_type', ARGV[11])
end
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[2], KEYS[1])
  if tonumber(ARGV[12]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[12]) end
else
  redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
  redis.call('PERSIST', KEYS[1])
end
return {2, redis.call('HGETALL', KEYS[1])}
`);

/** Delete: KEYS[1] record hash, KEYS[2] index. Returns 1 when the record existed. */
export const DELETE = script(`
redis.call('ZREM', KEYS[2], KEYS[1])
return redis.call('DEL', KEYS[1])
`);
