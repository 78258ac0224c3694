/**
 * Lua scripts of the Redis dispatch ledger: each pairs dispatch-record transitions (in the layout
 * of {@link RedisDispatchStore}) with the stream operation they belong to, atomically and in one
 * round trip per batch. The records' history entries and index updates are written exactly as the
 * store's own `TRANSITION` script writes them, so the store reads what the ledger wrote.
 *
 * Keys: a record key may sit in another Cluster slot than the queue's stream, so these scripts
 * (like the store's) need a single Redis or Sentinel.
 *
 * @packageDocumentation
 */
import { WireField } from '../../core/tasks/wire';
import { HISTORY_ENTRY } from './dispatch-scripts';
import { luaScript } from './lua';

/** Hash fields of the envelope a record drops once `ACKED` (only redelivery needs them). */
const ENVELOPE_FIELDS = Object.values(WireField).flatMap((n) => [`'e:s:${n}'`, `'e:b:${n}'`]).join(', ');

/**
 * Shared helpers. `move` applies one transition whose `from` the caller has checked, given the
 * record's `attempt` and `transition_count` as read (one `HMGET`): history entry `h:<n>`, state,
 * attempt, `updated_at_ms`, `last_error` and any `extra` field pairs in one `HSET`; then the index
 * (removed, and a TTL set, when the new state is terminal; scored by `now` otherwise).
 */
const PRELUDE = HISTORY_ENTRY + `
-- Records made terminal by this call: they leave the index in one ZREM at the end (see flush).
local done = {}
local function flush(index)
  if #done > 0 then redis.call('ZREM', index, unpack(done)) end
end
local function move(rk, index, from, to, now, attempt, count, err, limit, terminal, retention, extra)
  local n = tonumber(count or '0') + 1
  local entry = historyEntry(now, from, to, attempt, err)
  local h = {'state', to, 'attempt', attempt, 'updated_at_ms', now, 'transition_count', n, 'h:' .. n, entry}
  if err then
    h[#h + 1] = 'last_error'
    h[#h + 1] = err
  end
  if extra then for i = 1, #extra do h[#h + 1] = extra[i] end end
  redis.call('HSET', rk, unpack(h))
  if n > limit then redis.call('HDEL', rk, 'h:' .. (n - limit)) end
  if terminal then
    done[#done + 1] = rk
    if retention > 0 then redis.call('PEXPIRE', rk, retention) end
  else
    redis.call('ZADD', index, now, rk)
  end
  return n
end
-- The record's state, attempt and transition count; a PENDING record (its producer stopped between
-- publishing and marking it SENT) is moved to SENT first, since a delivery proves it was sent.
-- The fourth value is true when the record may hold a copy of its envelope: it was retried, or it
-- was created by the store rather than by SEND (no entry_id).
local function current(rk, index, now, limit)
  local cur = redis.call('HMGET', rk, 'state', 'attempt', 'transition_count', 'entry_id')
  local state, count = cur[1], cur[3]
  if state == 'PENDING' then
    count = move(rk, index, 'PENDING', 'SENT', now, cur[2], count, nil, limit, false, 0)
    state = 'SENT'
  end
  return state, cur[2], count, (not cur[4]) or tonumber(count) > 1
end
local function xadd(key, maxLen, flat, from, to)
  local args
  if maxLen ~= '0' then args = {'XADD', key, 'MAXLEN', '~', maxLen, '*'} else args = {'XADD', key, '*'} end
  local base = #args
  for i = from, to do args[base + i - from + 1] = flat[i] end
  return redis.call(unpack(args))
end
`;

/**
 * Send: per message, create its record as `SENT` (history `PENDING -> SENT`) and `XADD` it, unless
 * the record exists, in which case nothing is written and its state is returned. The record keeps
 * the stream entry's id (`entry_id`), not a copy of the envelope: recovery reads the entry back.
 *
 * KEYS[1] stream, KEYS[2] index, KEYS[2 + m] the record of message m. ARGV: maxLen, now, queue,
 * field count n, the n field names, then n values per message. Returns per message `1` (sent) or
 * `{state, attempt, result_bytes, result_schema_id, result_type, last_error, created_at_ms}` of the existing record.
 */
export const SEND = luaScript(HISTORY_ENTRY + `
local stream, index = KEYS[1], KEYS[2]
local maxLen, now, queue = ARGV[1], ARGV[2], ARGV[3]
local n = tonumber(ARGV[4])
local at = {}
for i = 1, n do at[ARGV[4 + i]] = i end
local iExec, iStep, iKey, iCorr = at['execution_id'], at['step_id'], at['idempotency_key'], at['correlation_id']
local iAttempt, iDeadline = at['retry_attempt'], at['deadline_ms']
local xargs
if maxLen ~= '0' then xargs = {'MAXLEN', '~', maxLen, '*'} else xargs = {'*'} end
local base = #xargs
for i = 1, n do xargs[base + 2 * i - 1] = ARGV[4 + i] end
local out = {}
local zadd = {}
local m = 0
local j = 5 + n
while j + n - 1 <= #ARGV do
  m = m + 1
  local rk = KEYS[2 + m]
  if redis.call('HSETNX', rk, 'state', 'SENT') == 0 then
    out[m] = redis.call('HMGET', rk, 'state', 'attempt', 'result_bytes', 'result_schema_id', 'result_type', 'last_error', 'created_at_ms')
  else
    for i = 1, n do xargs[base + 2 * i] = ARGV[j + i - 1] end
    local id = redis.call('XADD', stream, unpack(xargs, 1, base + 2 * n))
    local attempt = '0'
    if iAttempt then attempt = ARGV[j + iAttempt - 1] end
    local h = {
      'execution_id', ARGV[j + iExec - 1], 'step_id', ARGV[j + iStep - 1], 'idempotency_key', ARGV[j + iKey - 1],
      'attempt', attempt, 'correlation_id', ARGV[j + iCorr - 1],
      'created_at_ms', now, 'updated_at_ms', now, 'transition_count', 1, 'queue', queue, 'entry_id', id,
      'h:1', historyEntry(now, 'PENDING', 'SENT', attempt, nil),
    }
    if iDeadline and ARGV[j + iDeadline - 1] ~= '' then
      h[#h + 1] = 'deadline_ms'
      h[#h + 1] = ARGV[j + iDeadline - 1]
    end
    redis.call('HSET', rk, unpack(h))
    zadd[#zadd + 1] = now
    zadd[#zadd + 1] = rk
    out[m] = 1
  end
  j = j + n
end
if #zadd > 0 then redis.call('ZADD', index, unpack(zadd)) end
return out
`);

/**
 * Inspect: `{state, attempt, result_bytes, result_schema_id, result_type, last_error, created_at_ms}` of each
 * record in KEYS (`state` is false for a missing record).
 */
export const INSPECT = luaScript(`
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HMGET', KEYS[i], 'state', 'attempt', 'result_bytes', 'result_schema_id', 'result_type', 'last_error', 'created_at_ms')
end
return out
`);

/**
 * Complete: per ack, its record `SENT -> ACKED` with the result (a `PENDING` record is first moved
 * to `SENT`; a record in any other state, or none, is left alone: a duplicate delivery), and its
 * result reply; then the other follow-up messages; then `XACK` of every delivery id.
 *
 * KEYS[1] stream, KEYS[2] index, KEYS[3..] records and reply streams. ARGV: group, maxLen, now,
 * history limit, retention ms, ack count k, the k delivery ids, then per ack 8 values: its record's
 * index in KEYS (`0`: none), result bytes, schema id, type (`''`: no result), its reply stream's
 * index (`0`: none), execution id, idempotency key, the attempt that ran (`''`: the record's); then
 * per follow-up message its key's index, its
 * field count n and n name/value pairs. Returns the number of ids acked.
 */
export const COMPLETE = luaScript(PRELUDE + `
local stream, index = KEYS[1], KEYS[2]
local group, maxLen, now, limit, retention = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local k = tonumber(ARGV[6])
local j = 7 + k
local reply
if maxLen ~= '0' then reply = {'XADD', '', 'MAXLEN', '~', maxLen, '*'} else reply = {'XADD', '', '*'} end
local rb = #reply
reply[rb + 1] = 'kind'
reply[rb + 2] = 'result'
reply[rb + 3] = 'execution_id'
reply[rb + 5] = 'idempotency_key'
reply[rb + 7] = 'schema_id'
reply[rb + 9] = 'type'
reply[rb + 11] = 'payload'
for _ = 1, k do
  local ri = tonumber(ARGV[j])
  if ri > 0 then
    local rk = KEYS[ri]
    local state, attempt, count, copy = current(rk, index, now, limit)
    if state == 'SENT' then
      -- The attempt that ran, when no transition has recorded it (a delivery taken over from a crashed worker).
      if ARGV[j + 7] ~= '' then attempt = ARGV[j + 7] end
      local extra = nil
      if ARGV[j + 2] ~= '' then extra = {'result_bytes', ARGV[j + 1], 'result_schema_id', ARGV[j + 2], 'result_type', ARGV[j + 3]} end
      -- A copy of the envelope (a retried record, see RETRY, or one the store created) is not needed any more.
      if copy then redis.call('HDEL', rk, ${ENVELOPE_FIELDS}) end
      move(rk, index, 'SENT', 'ACKED', now, attempt, count, nil, limit, true, retention, extra)
    end
  end
  local qi = tonumber(ARGV[j + 4])
  if qi > 0 then
    reply[2] = KEYS[qi]
    reply[rb + 4] = ARGV[j + 5]
    reply[rb + 6] = ARGV[j + 6]
    reply[rb + 8] = ARGV[j + 2]
    reply[rb + 10] = ARGV[j + 3]
    reply[rb + 12] = ARGV[j + 1]
    redis.call(unpack(reply))
  end
  j = j + 8
end
while j <= #ARGV do
  local n = tonumber(ARGV[j + 1])
  xadd(KEYS[tonumber(ARGV[j])], maxLen, ARGV, j + 2, j + 1 + 2 * n)
  j = j + 2 + 2 * n
end
flush(index)
local acked = 0
local i = 7
while i < 7 + k do
  local last = math.min(i + 999, 6 + k)
  acked = acked + redis.call('XACK', stream, group, unpack(ARGV, i, last))
  i = last + 1
end
return acked
`);

/**
 * Retry: record `SENT -> FAILED_RETRYABLE` with the error and a copy of the envelope (`e:s:<name>` /
 * `e:b:<name>` fields, for the redelivery), its next attempt kept in `next_attempt`, the record
 * scheduled in the queue's delayed set at its due time, and the delivery acked. A record in another
 * state is left alone (another delivery owns it) and the delivery is acked.
 *
 * KEYS[1] stream, KEYS[2] index, KEYS[3] record, KEYS[4] delayed set. ARGV: group, delivery id,
 * now, history limit, error JSON, due ms, next attempt, the failed attempt (`''`: the record's),
 * then the envelope as record-field/value pairs. Returns 1 when scheduled, 0 when the record was not `SENT`, -1 (nothing written, nothing
 * acked) when there is no record.
 */
export const RETRY = luaScript(PRELUDE + `
local stream, index, rk, delayed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, id, now, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local state, attempt, count = current(rk, index, now, limit)
if not state then return -1 end
local done = 0
if state == 'SENT' then
  local extra = {'next_attempt', ARGV[7]}
  for i = 9, #ARGV do extra[#extra + 1] = ARGV[i] end
  if ARGV[8] ~= '' then attempt = ARGV[8] end
  move(rk, index, 'SENT', 'FAILED_RETRYABLE', now, attempt, count, ARGV[5], limit, false, 0, extra)
  redis.call('ZADD', delayed, ARGV[6], rk)
  done = 1
end
redis.call('XACK', stream, group, id)
return done
`);

/**
 * Final failure: the record (if any, and not terminal) goes to `FAILED_FINAL` with the error, the
 * dead letter is added, the follow-up (error reply) is added with the dead letter's id as
 * `dead_letter_id`, and the delivery is acked.
 *
 * KEYS[1] stream, KEYS[2] index, KEYS[3] dead-letter stream, KEYS[4] record (any key when there is
 * none), KEYS[5] follow-up stream (optional). ARGV: group, delivery id, now, history limit, error
 * JSON, retention ms, dead-letter maxLen, queue maxLen, has-record flag, the failed attempt (`''`:
 * the record's), dead-letter field count d,
 * d name/value pairs, then the follow-up's field count f and f pairs (f may be 0).
 */
export const FAIL_FINAL = luaScript(PRELUDE + `
local stream, index, dlq = KEYS[1], KEYS[2], KEYS[3]
local group, id, now, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local err, retention, dlqMax, maxLen = ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8]
if ARGV[9] == '1' then
  local rk = KEYS[4]
  local state, attempt, count = current(rk, index, now, limit)
  if ARGV[10] ~= '' then attempt = ARGV[10] end
  if state == 'SENT' or state == 'FAILED_RETRYABLE' then
    move(rk, index, state, 'FAILED_FINAL', now, attempt, count, err, limit, true, retention)
  end
end
flush(index)
local d = tonumber(ARGV[11])
local dlqId = xadd(dlq, dlqMax, ARGV, 12, 11 + 2 * d)
local j = 12 + 2 * d
local f = tonumber(ARGV[j])
if f > 0 then
  -- The follow-up is the error reply: it names the dead letter just written.
  local follow = {}
  for i = j + 1, j + 2 * f do follow[#follow + 1] = ARGV[i] end
  follow[#follow + 1] = 'dead_letter_id'
  follow[#follow + 1] = dlqId
  xadd(KEYS[5], maxLen, follow, 1, #follow)
end
redis.call('XACK', stream, group, id)
return 1
`);

/**
 * Redeliver due retries: for each record in the queue's delayed set due by `now` (at most
 * `limit`), drop it from the set and, if it is still `FAILED_RETRYABLE`, move it `-> SENT` with its
 * `next_attempt`, `XADD` its envelope copy with `retry_attempt` and `dispatch_ts_ms` replaced, and
 * keep the new entry's id.
 *
 * KEYS[1] stream, KEYS[2] index, KEYS[3] delayed set. ARGV: now, limit, maxLen, history limit.
 * Returns `{redelivered, next due score or false}`.
 */
export const REDELIVER = luaScript(PRELUDE + `
local stream, index, delayed = KEYS[1], KEYS[2], KEYS[3]
local now, maxLen, limit = ARGV[1], ARGV[3], tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local sent = 0
for _, rk in ipairs(due) do
  redis.call('ZREM', delayed, rk)
  local cur = redis.call('HMGET', rk, 'state', 'next_attempt', 'transition_count')
  if cur[1] == 'FAILED_RETRYABLE' then
    local attempt = cur[2]
    local h = redis.call('HGETALL', rk)
    local flat = {}
    for i = 1, #h, 2 do
      local name = h[i]
      if string.sub(name, 1, 2) == 'e:' then
        local wire = string.sub(name, 5)
        flat[#flat + 1] = wire
        if wire == 'retry_attempt' then flat[#flat + 1] = attempt
        elseif wire == 'dispatch_ts_ms' then flat[#flat + 1] = now
        else flat[#flat + 1] = h[i + 1] end
      end
    end
    local extra = nil
    if #flat > 0 then
      extra = {'entry_id', xadd(stream, maxLen, flat, 1, #flat)}
      sent = sent + 1
    end
    move(rk, index, 'FAILED_RETRYABLE', 'SENT', now, attempt, cur[3], nil, limit, false, 0, extra)
  end
end
local nxt = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
if nxt[2] then return {sent, nxt[2]} end
return {sent, false}
`);

/**
 * Touch: for each record in KEYS that is `SENT`, set `updated_at_ms` to now and re-score it in the
 * index (`ZADD XX`), so the reconciler sees it as alive. No transition, no history entry.
 *
 * KEYS[1] index, KEYS[2..] records. ARGV: now. Returns how many records were touched.
 */
export const TOUCH_RECORDS = luaScript(`
local n = 0
for i = 2, #KEYS do
  if redis.call('HGET', KEYS[i], 'state') == 'SENT' then
    redis.call('HSET', KEYS[i], 'updated_at_ms', ARGV[1])
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], KEYS[i])
    n = n + 1
  end
end
return n
`);

