import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { gatewayKey } from './keys';

const digest = (id: string) => createHash('sha256').update(id).digest('hex');

/**
 * Queue-dashboard browser sessions: the cookie holds a random id, Redis holds only its digest, so neither a
 * stolen cookie jar nor a Redis dump yields the admin token. Each key ends by its own TTL (or at logout);
 * a process dying right after the write leaves a session nobody holds, gone at its expiry.
 */
export class AdminSessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return gatewayKey(this.prefix, 'admin-session', digest(id));
  }

  async create(ttlSeconds: number): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.redis.set(this.key(id), '1', 'EX', ttlSeconds);
    return id;
  }

  async valid(id: string): Promise<boolean> {
    return (await this.redis.exists(this.key(id))) === 1;
  }

  async end(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}
