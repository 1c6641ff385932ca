-- Creates an identity unless its name is held: name set, user hash, creation order, session.
if redis.call('SCARD', KEYS[1]) > 0 then return 0 end
local seq = redis.call('INCR', KEYS[6])
redis.call('HSET', KEYS[2], 'name', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], 'password', ARGV[3]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], 'directory', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[2], 'display_name', ARGV[6]) end
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('SET', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[4])
redis.call('SADD', KEYS[1], ARGV[1])
return 1
