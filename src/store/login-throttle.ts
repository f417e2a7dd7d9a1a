import type { Redis } from 'ioredis';
import type { IdentifierHasher } from '../security/identifier-hash';
import { gatewayKey } from './keys';

// Counts the attempt and gives it its expiry in one step: no key is ever left without one.
const ATTEMPT = `
local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}
`;
// Takes back a successful attempt's count, never recreating an expired key; at zero the key goes.
const UNDO = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 1 then return redis.call('DECR', KEYS[1]) end
redis.call('DEL', KEYS[1])
return 0
`;

/**
 * Admin token attempts per client address (the dashboard login and every Bearer check): past `limit`
 * within `windowSeconds`, that address is refused until the window ends, the right token included, so a
 * blocked guesser learns nothing. Each attempt is counted before the token is compared (parallel guesses
 * each see their own count); a success takes back only its own count, so it never lifts a block early. The
 * key names an HMAC of the address under the identifier-hash key, not in Redis: a dump cannot list who
 * failed. One key per address that failed (or is trying right now) within a window, expiring with it; a process dying between the
 * count and the take-back leaves one extra count until then.
 */
export class LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly hasher: IdentifierHasher,
    private readonly limit = 10,
    private readonly windowSeconds = 15 * 60,
  ) {}

  private key(address: string): string {
    return gatewayKey(this.prefix, 'admin-login-failures', this.hasher.hash(`admin-client:${address}`));
  }

  /** `retryAfter` > 0: refused without comparing; otherwise `ok` is the verdict of `verify`. */
  async attempt(address: string, verify: () => boolean | Promise<boolean>): Promise<{ ok: boolean; retryAfter: number }> {
    const key = this.key(address);
    const [count, ttl] = (await this.redis.eval(ATTEMPT, 1, key, this.windowSeconds)) as [number, number];
    if (count > this.limit) return { ok: false, retryAfter: Math.max(ttl, 1) };
    const ok = await verify();
    if (ok) await this.redis.eval(UNDO, 1, key);
    return { ok, retryAfter: 0 };
  }
}
