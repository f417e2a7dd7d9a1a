import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisConnection } from '../queues/connection';
import { gatewayKey, scanKeys } from './keys';

const digest = (id: string) => createHash('sha256').update(id).digest('hex');

/** What a session keeps beside its binding (the console's operator name and cross-site secret); the dashboard keeps none. */
export type SessionDetails = Record<string, string>;

/**
 * Browser sessions of the queue dashboard and the operator console: the cookie holds a random id, Redis holds only
 * its digest, so neither a stolen cookie jar nor a Redis dump yields the admin token. The value is an HMAC of the id
 * under the admin token in force at login: after a token rotation no earlier session opens anything (and, keyed by an
 * id Redis never holds, the value gives a dump nothing to test token guesses against), followed by the session's
 * details, if any. Nothing a browser holds or a page shows is keyed with the admin token: it would be a test for
 * offline token guesses that bypasses the log-in throttle. Each key ends by its own TTL, at logout, at its first use
 * under another token, or by `endAll`; a process dying right after the write leaves a session nobody holds.
 */
export class AdminSessionStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return gatewayKey(this.prefix, 'admin-session', digest(id));
  }

  private static bind(id: string, adminToken: string): string {
    return createHmac('sha256', adminToken).update(`dashboard-session:${id}`).digest('hex');
  }

  async create(ttlSeconds: number, adminToken: string, details?: SessionDetails): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const value = AdminSessionStore.bind(id, adminToken) + (details ? `.${JSON.stringify(details)}` : '');
    await this.redis.set(this.key(id), value, 'EX', ttlSeconds);
    return id;
  }

  /** The details of a session live and opened under this admin token (`{}` if it has none); one from before a rotation is deleted on sight. */
  async details(id: string, adminToken: string): Promise<SessionDetails | null> {
    const stored = await this.redis.get(this.key(id));
    if (stored === null) return null;
    const expected = Buffer.from(AdminSessionStore.bind(id, adminToken));
    const binding = Buffer.from(stored.slice(0, expected.length));
    if (binding.length === expected.length && timingSafeEqual(binding, expected) && (stored.length === expected.length || stored[expected.length] === '.')) {
      return stored.length === expected.length ? {} : (JSON.parse(stored.slice(expected.length + 1)) as SessionDetails);
    }
    await this.redis.del(this.key(id));
    return null;
  }

  /** Live and opened under this admin token. */
  async valid(id: string, adminToken: string): Promise<boolean> {
    return (await this.details(id, adminToken)) !== null;
  }

  async end(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }

  /** Ends every dashboard and console session (npm run admin -- sessions end-all); returns how many there were. */
  async endAll(): Promise<number> {
    let ended = 0;
    for await (const keys of scanKeys(this.redis, gatewayKey(this.prefix, 'admin-session', '*'))) {
      if (keys.length) ended += await this.redis.del(...keys);
    }
    return ended;
  }
}
