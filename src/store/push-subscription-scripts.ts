// The Lua scripts of PushSubscriptionStore: each change to a device's entry and its owner key is decided in Redis.

/**
 * One owner per endpoint, atomically: the endpoint's owner key moves to the new user (with the device's expiry)
 * and the previous owner's entry goes. KEYS: new user's hash, owner key; ARGV: field, value, user, ttl, the
 * user-hash key prefix. Returns the previous owner, if another.
 */
export const ENROLL = `
local previous = redis.call('GET', KEYS[2])
if previous and previous ~= ARGV[3] then redis.call('HDEL', ARGV[5] .. previous, ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
if previous and previous ~= ARGV[3] then return previous end
return false`;

/**
 * A delivery proves the device is in use: its owner key gets a full TTL again, if it still names this user.
 * KEYS: owner key, user's hash; ARGV: user, ttl. Returns 1 when renewed.
 */
export const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[2])
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return 1`;

/**
 * A device its push service says is gone: its entry goes only if it still holds the value read (a re-enrollment
 * writes a new one), its owner key only if it still names this user (an enrollment for another user moved it).
 * KEYS: user's hash, owner key; ARGV: field, value read, user. Returns 1 when removed.
 */
export const REMOVE_IF_SAME = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1`;
