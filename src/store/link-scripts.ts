import { LuaScript } from './lua-script';

/** The writes of a reference's link (ReferenceStore), each one script so no crash leaves half of one. */

// Create-if-absent: two jobs that each opened a record for one reference must not leave the later one linked.
// KEYS[3], when given, is a counter hash whose field ARGV[3] counts records as they are first linked: in the same
// script, so a crash after the link cannot leave a record uncounted (a retry finds the link and counts nothing).
export const SAVE_LINK_IF_ABSENT = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], 'caseId') == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[1])
if KEYS[3] then redis.pcall('HINCRBY', KEYS[3], ARGV[3], 1) end
return 1
`);

// Only on a link that exists: an HSET on a removed (forgotten, expired) link would leave a hash with no TTL.
export const SET_ON_LINK = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], 'caseId') == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`);
