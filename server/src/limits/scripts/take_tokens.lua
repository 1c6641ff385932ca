-- A token bucket shared by every node: takes ARGV[4] tokens once the bucket holds ARGV[3].
-- KEYS[1]: the bucket (hash: tokens, at). ARGV: tokens per second, burst, need, cost.
-- Returns 0 when taken, else the milliseconds until it could be (at least 1).
-- Redis's clock, so every node's buckets refill at the same pace.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local per_ms = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local need = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * per_ms)
end
local wait = 0
if tokens >= need then
  tokens = tokens - cost
else
  wait = math.max(1, math.ceil((need - tokens) / per_ms))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
-- A full bucket says nothing: it goes once it would be full again.
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((burst - tokens) / per_ms)))
return wait
