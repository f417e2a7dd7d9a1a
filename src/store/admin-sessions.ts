import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { gatewayKey, scanKeys } from './keys';

const digest = (id: string) => createHash('sha256').update(id).digest('hex');

/**
 * Queue-dashboard browser sessions: the cookie holds a random id, Redis holds only its digest, so neither a
 * stolen cookie jar nor a Redis dump yields the admin token. The value is an HMAC of the id under the admin token
 * in force at login: after a token rotation no earlier session opens anything (and, keyed by an id Redis never
 * holds, the value gives a dump nothing to test token guesses against). Each key ends by its own TTL, at logout,
 * at its first use under another token, or by `endAll`; a process dying right after the write leaves a session
 * nobody holds, gone at its expiry.
 */
export class AdminSessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return gatewayKey(this.prefix, 'admin-session', digest(id));
  }

  private static bind(id: string, adminToken: string): string {
    return createHmac('sha256', adminToken).update(`dashboard-session:${id}`).digest('hex');
  }

  async create(ttlSeconds: number, adminToken: string): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.redis.set(this.key(id), AdminSessionStore.bind(id, adminToken), 'EX', ttlSeconds);
    return id;
  }

  /** Live and opened under this admin token; a session from before a rotation is deleted on sight. */
  async valid(id: string, adminToken: string): Promise<boolean> {
    const stored = await this.redis.get(this.key(id));
    if (stored === null) return false;
    const expected = Buffer.from(AdminSessionStore.bind(id, adminToken));
    if (stored.length === expected.length && timingSafeEqual(Buffer.from(stored), expected)) return true;
    await this.redis.del(this.key(id));
    return false;
  }

  async end(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }

  /** Ends every dashboard session (npm run admin -- sessions end-all); returns how many there were. */
  async endAll(): Promise<number> {
    let ended = 0;
    for await (const keys of scanKeys(this.redis, gatewayKey(this.prefix, 'admin-session', '*'))) {
      if (keys.length) ended += await this.redis.del(...keys);
    }
    return ended;
  }
}
