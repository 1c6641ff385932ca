-- One more failed attempt from a client address, shared by every node.
-- KEYS[1]: the address's counter. ARGV[1]: the window in milliseconds, which starts with the
-- window's first failure. Returns the failures in the window.
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
