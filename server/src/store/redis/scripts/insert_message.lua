-- Inserts a message atomically: idempotency check, id, conversation, peers, unread
-- bookkeeping, where it is kept, the idempotency key.
-- KEYS: 1 idempotency key, 2 id counter, 3 conversation, 4/5 sender's and recipient's peers,
-- 6 the recipient's inbox (or the sender's sent ids in a group), 7 the file's conversations,
-- 8 message id → conversation, 9 the file's messages, 10 the replies to the original,
-- 11… the mentioned members' mention sets.
-- ARGV: 1 from, 2 to, 3 content, 4 ts, 5 clientId or '', 6 attachment JSON or '',
-- 7 'group' or 'private', 8 the reply's quote JSON or '', 9 mentions JSON or ''.
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
  redis.call('SADD', KEYS[9], id)
end
if ARGV[8] ~= '' then
  m.replyTo = cjson.decode(ARGV[8])
  redis.call('SADD', KEYS[10], id)
end
if ARGV[9] ~= '' then
  m.mentions = cjson.decode(ARGV[9])
  for i = 11, #KEYS do redis.call('ZADD', KEYS[i], id, id) end
end
local json = cjson.encode(m)
redis.call('ZADD', KEYS[3], id, json)
redis.call('ZADD', KEYS[6], id, id)
redis.call('HSET', KEYS[8], id, KEYS[3])
if ARGV[7] ~= 'group' then
  redis.call('SADD', KEYS[4], ARGV[2])
  redis.call('SADD', KEYS[5], ARGV[1])
end
if ARGV[5] ~= '' then redis.call('SET', KEYS[1], json) end
return {1, json}
