-- Renames unless another identity holds the new name.
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[1] then return 0 end
end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[3], 'name', ARGV[2])
redis.call('INCR', KEYS[4])
return 1
