import type { RedisConnection } from '../queues/connection';
import type { IdentifierHasher } from '../security/identifier-hash';
import { gatewayKey } from './keys';

// Counts the failure and gives it its expiry in one step: no key is ever left without one.
const ATTEMPT = `
local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}
`;
/**
 * Failed admin token attempts per client address (the dashboard login and every Bearer check): past `limit`
 * failures within `windowSeconds`, a wrong token from that address is answered 429 until the window ends. The
 * right token always passes, so nobody sharing an address with a guesser (every client behind a proxy without
 * TRUST_PROXY, or one an attacker claims in X-Forwarded-For) is locked out, and a correct request costs no Redis
 * call. Failures are counted atomically (parallel guesses each see their own count). The key names an HMAC of the
 * address under the identifier-hash key, not in Redis: a dump cannot list who failed. One key per address that
 * failed within a window, expiring with it.
 */
export class LoginThrottle {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    private readonly hasher: IdentifierHasher,
    private readonly limit = 10,
    private readonly windowSeconds = 15 * 60,
  ) {}

  private key(address: string): string {
    return gatewayKey(this.prefix, 'admin-login-failures', this.hasher.hash(`admin-client:${address}`));
  }

  /** `ok` is the verdict of `verify`; a failure past the limit also says how long the address is refused. */
  async attempt(address: string, verify: () => boolean | Promise<boolean>): Promise<{ ok: boolean; retryAfter: number }> {
    if (await verify()) return { ok: true, retryAfter: 0 };
    const [count, ttl] = (await this.redis.eval(ATTEMPT, 1, this.key(address), this.windowSeconds)) as [number, number];
    return { ok: false, retryAfter: count > this.limit ? Math.max(ttl, 1) : 0 };
  }
}
