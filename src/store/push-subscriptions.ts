import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PayloadCodec } from '../security/payload-codec';
import { gatewayKey } from './keys';

export interface PushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface StoredSubscription {
  endpointHash: string;
  subscription: PushSubscription;
  language: string;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

/**
 * Caseworkers' browsers, per Primero user name. Endpoints and keys are sealed with DATA_KEY; a one-time
 * enrollment token (stored hashed) is how a device proves an operator vouched for it.
 */
export class PushSubscriptionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly codec: PayloadCodec,
  ) {}

  private userKey(user: string): string {
    return gatewayKey(this.prefix, 'push', 'user', user);
  }

  private ownerKey(endpointHash: string): string {
    return gatewayKey(this.prefix, 'push', 'endpoint', endpointHash);
  }

  async createEnrollment(user: string, ttlSeconds: number): Promise<string> {
    const token = randomBytes(24).toString('base64url');
    await this.redis.set(gatewayKey(this.prefix, 'push', 'enroll', hash(token)), user, 'EX', ttlSeconds);
    return token;
  }

  /** One use only: GETDEL, so a token shared or replayed after enrollment opens nothing. */
  async consumeEnrollment(token: string): Promise<string | null> {
    return this.redis.getdel(gatewayKey(this.prefix, 'push', 'enroll', hash(token)));
  }

  async add(user: string, subscription: PushSubscription, language: string): Promise<string> {
    const endpointHash = hash(subscription.endpoint);
    const value = this.codec.sealValue(JSON.stringify({ subscription, language }));
    await this.redis.multi().hset(this.userKey(user), endpointHash, value).set(this.ownerKey(endpointHash), user).exec();
    return endpointHash;
  }

  async list(user: string): Promise<StoredSubscription[]> {
    const all = await this.redis.hgetall(this.userKey(user));
    return Object.entries(all).map(([endpointHash, value]) => ({ endpointHash, ...(JSON.parse(this.codec.openValue(value)) as Omit<StoredSubscription, 'endpointHash'>) }));
  }

  async get(user: string, endpointHash: string): Promise<StoredSubscription | null> {
    const value = await this.redis.hget(this.userKey(user), endpointHash);
    return value ? { endpointHash, ...(JSON.parse(this.codec.openValue(value)) as Omit<StoredSubscription, 'endpointHash'>) } : null;
  }

  /** Removes a device. The caller proves it holds the subscription by its auth secret. */
  async removeByDevice(endpoint: string, auth: string): Promise<boolean> {
    const endpointHash = hash(endpoint);
    const user = await this.redis.get(this.ownerKey(endpointHash));
    if (!user) return false;
    const stored = await this.get(user, endpointHash);
    if (!stored || stored.subscription.keys.auth !== auth) return false;
    await this.redis.multi().hdel(this.userKey(user), endpointHash).del(this.ownerKey(endpointHash)).exec();
    return true;
  }

  /** After a 404/410: removes the subscription only if it still is the one that failed (a refreshed one stays). */
  async removeIfUnchanged(user: string, endpointHash: string, endpoint: string): Promise<boolean> {
    const stored = await this.get(user, endpointHash);
    if (!stored || stored.subscription.endpoint !== endpoint) return false;
    await this.redis.multi().hdel(this.userKey(user), endpointHash).del(this.ownerKey(endpointHash)).exec();
    return true;
  }
}
