import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { gatewayKey } from './keys';

/**
 * Failed dashboard logins per client address: `limit` failures within `windowSeconds` and that address is
 * refused until the window ends. One key per address that failed recently (its digest, not the address), each
 * created with its expiry in the same MULTI as the count, so a process dying mid-write never leaves a key
 * without one; Redis memory is bounded by the addresses failing within one window.
 */
export class LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limit = 10,
    private readonly windowSeconds = 15 * 60,
  ) {}

  private key(address: string): string {
    return gatewayKey(this.prefix, 'admin-login-failures', createHash('sha256').update(address).digest('hex').slice(0, 32));
  }

  /** Seconds until this address may try again, or 0. */
  async blockedFor(address: string): Promise<number> {
    const [[, count], [, ttl]] = (await this.redis.multi().get(this.key(address)).ttl(this.key(address)).exec()) as [[null, string | null], [null, number]];
    return Number(count ?? 0) >= this.limit ? Math.max(ttl, 1) : 0;
  }

  async failed(address: string): Promise<void> {
    await this.redis.multi().set(this.key(address), 0, 'EX', this.windowSeconds, 'NX').incr(this.key(address)).exec();
  }

  async succeeded(address: string): Promise<void> {
    await this.redis.del(this.key(address));
  }
}
