-- Inserts a message atomically: idempotency check, id, conversation, peers, idempotency key.
if ARGV[5] ~= '' then
  local existing = redis.call('GET', KEYS[1])
  if existing then return {0, existing} end
end
local id = redis.call('INCR', KEYS[2])
local m = {id = id, content = ARGV[3], from = ARGV[1], to = ARGV[2], ts = tonumber(ARGV[4])}
if ARGV[5] ~= '' then m.clientId = ARGV[5] end
if ARGV[6] ~= '' then
  m.attachment = cjson.decode(ARGV[6])
  redis.call('SADD', KEYS[7], ARGV[2])
end
local json = cjson.encode(m)
redis.call('ZADD', KEYS[3], id, json)
redis.call('ZADD', KEYS[6], id, id)
if ARGV[7] ~= 'group' then
  redis.call('SADD', KEYS[4], ARGV[2])
  redis.call('SADD', KEYS[5], ARGV[1])
end
if ARGV[5] ~= '' then redis.call('SET', KEYS[1], json) end
return {1, json}
