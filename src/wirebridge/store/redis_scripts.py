"""The Lua scripts of the Redis store: each check-then-write is one atomic round trip."""

# Puts, in order: KEYS four per put (its hash, its events, the expiry index, the active set),
# ARGV nine per put.
PUT = """
for p = 0, #KEYS / 4 - 1 do
  local k, a = 4 * p, 9 * p
  local id, expires, active = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  redis.call('HSET', KEYS[k + 1], 'owner', ARGV[a + 4], 'prev', ARGV[a + 5],
             'created', ARGV[a + 6], 'expires', expires, 'status', ARGV[a + 7],
             'response', ARGV[a + 8], 'items', ARGV[a + 9])
  if expires == '' then
    redis.call('PERSIST', KEYS[k + 1])
    redis.call('PERSIST', KEYS[k + 2])
    redis.call('ZREM', KEYS[k + 3], id)
  else
    redis.call('EXPIREAT', KEYS[k + 1], expires)
    redis.call('EXPIREAT', KEYS[k + 2], expires)
    redis.call('ZADD', KEYS[k + 3], expires, id)
  end
  if active == '1' then
    redis.call('SADD', KEYS[k + 4], id)
  else
    redis.call('SREM', KEYS[k + 4], id)
  end
end
return 1
"""

HISTORY = """
local prefix, id, owner = ARGV[1], ARGV[2], ARGV[3]
local now, max = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for _ = 1, max do
  local f = redis.call('HMGET', prefix .. 'resp:' .. id,
                       'owner', 'expires', 'prev', 'items', 'response')
  if f[1] ~= owner then return false end
  if f[2] and f[2] ~= '' and tonumber(f[2]) <= now then return false end
  out[#out + 1] = f[4]
  out[#out + 1] = f[5]
  if not f[3] or f[3] == '' then return out end
  id = f[3]
end
return false
"""

DELETE = """
local f = redis.call('HMGET', KEYS[1], 'owner', 'expires')
if f[1] ~= ARGV[1] then return 0 end
if f[2] and f[2] ~= '' and tonumber(f[2]) <= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('SREM', KEYS[4], ARGV[3])
return 1
"""

APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[i], ARGV[i])
  redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
"""

HSET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# Shared by the scan and the compare-and-set: is this hash a response nobody is running?
STALE_FN = """
local function stale(f, now, grace)
  if f[1] ~= 'queued' and f[1] ~= 'in_progress' then return false end
  if f[2] and f[2] ~= '' then return tonumber(f[2]) < now end
  return tonumber(f[3]) < now - grace
end
"""

RECOVER_SCAN = (
    STALE_FN
    + """
local prefix, now, grace = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', prefix .. 'resp:' .. id,
                       'status', 'lease_until', 'created', 'response')
  if not f[1] or (f[1] ~= 'queued' and f[1] ~= 'in_progress') then
    redis.call('SREM', KEYS[1], id)
  elseif stale(f, now, grace) then
    out[#out + 1] = id
    out[#out + 1] = f[4]
  end
end
return out
"""
)

# Fail the response only if it is still stale and still exactly what the scan read: the
# instance running it may have renewed its lease or re-put it since.
FAIL = (
    STALE_FN
    + """
local f = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'created', 'response')
if not f[1] or f[4] ~= ARGV[1] then return 0 end
if not stale(f, tonumber(ARGV[3]), tonumber(ARGV[4])) then return 0 end
redis.call('HSET', KEYS[1], 'status', 'failed', 'response', ARGV[2])
redis.call('SREM', KEYS[2], ARGV[5])
return 1
"""
)

GC = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[1] .. 'resp:' .. id, ARGV[1] .. 'events:' .. id)
  redis.call('SREM', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
"""


REVOKE_KEY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local revoked = redis.call('HGET', KEYS[1], 'revoked')
if not revoked or revoked == '' then redis.call('HSET', KEYS[1], 'revoked', ARGV[1]) end
return 1
"""

# KEYS: the key's hash, the index of keys. ARGV: its id, its creation time, then field, value, …
PUT_KEY = """
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""
