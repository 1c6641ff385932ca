-- Moves a read marker forward only; returns the marker now stored and whether it moved.
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local up_to = tonumber(ARGV[2])
if up_to <= current then return {current, 0} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {up_to, 1}
