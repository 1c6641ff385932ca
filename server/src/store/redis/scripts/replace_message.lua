-- Replaces the stored JSON of a message if it is still what the caller read (compare and
-- swap: the caller computed the new JSON from it), with what the change does besides.
-- KEYS: 1 conversation, 2 idempotency key (or a key never written), 3 the group's deleted ids,
-- 4 the file's messages, 5 the file's record, 6 the file's conversations, 7… sorted sets the
-- id leaves (the inbox or sent ids, mention sets).
-- ARGV: 1 id, 2 the JSON read, 3 the new JSON, 4 '1' when the idempotency key holds a copy,
-- 5 '1' for a deletion in a group, 6 '1' when the message carried the file of KEYS 4–6.
-- Returns 0 when the message changed meanwhile (read again), 1 when replaced, 2 when replaced
-- and the file is carried by no message any more (its record is gone).
local id = tonumber(ARGV[1])
local now = redis.call('ZRANGEBYSCORE', KEYS[1], id, id)
if now[1] ~= ARGV[2] then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], id, id)
redis.call('ZADD', KEYS[1], id, ARGV[3])
if ARGV[4] == '1' then redis.call('SET', KEYS[2], ARGV[3]) end
for i = 7, #KEYS do redis.call('ZREM', KEYS[i], id) end
if ARGV[5] == '1' then redis.call('ZADD', KEYS[3], id, id) end
if ARGV[6] == '1' then
  redis.call('SREM', KEYS[4], id)
  if redis.call('SCARD', KEYS[4]) == 0 then
    redis.call('DEL', KEYS[5], KEYS[6])
    return 2
  end
end
return 1
