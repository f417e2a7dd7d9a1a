import { LuaScript } from './lua-script';

/**
 * The link's "safe to contact" field (the `safe` field of `gw:ref:<reference>`, owned by ReferenceStore) moves only
 * towards silence, decided in Redis and not by a caller's earlier read: its writers (a merged report lowering it, the
 * note detector copying what it read from the record) each read the link before they write, and a yes read before a
 * merged "not safe" landed must not overwrite it. ARGV[1] '0' always wins; '1' only fills unknown (absent or '');
 * nothing replaces '0'. Only on a link that exists: a write on a removed (forgotten, expired) link would leave a hash
 * with no TTL. ARGV[2]: the field Primero showed (a read or a webhook body carried it),
 * kept as `safeSeen` whatever the answer does; a merge's own lowering passes ''. Returns 1 when the field was written.
 */
export const LOWER_OR_FILL_SAFE = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], 'caseId') == 0 then return 0 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'safeSeen', ARGV[2]) end
local current = redis.call('HGET', KEYS[1], 'safe')
if ARGV[1] == '1' and current ~= false and current ~= '' then return 0 end
redis.call('HSET', KEYS[1], 'safe', ARGV[1])
return 1
`);
