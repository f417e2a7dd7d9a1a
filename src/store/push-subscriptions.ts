import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { gatewayKey, replaceFieldIfUnchanged } from './keys';

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
    const value = this.codec.sealValue(JSON.stringify({ subscription, language }), sealContext.pushSubscription(user, endpointHash));
    await this.redis.multi().hset(this.userKey(user), endpointHash, value).set(this.ownerKey(endpointHash), user).exec();
    return endpointHash;
  }

  /**
   * The user's devices that can be opened. One sealed under a key no longer configured is left out (and
   * counted by `reseal`), so a lost key costs that device its notifications, never someone's referral.
   */
  async list(user: string): Promise<StoredSubscription[]> {
    const all = await this.redis.hgetall(this.userKey(user));
    return Object.entries(all).flatMap(([endpointHash, value]) => {
      const stored = this.open(user, endpointHash, value);
      return stored ? [stored] : [];
    });
  }

  async get(user: string, endpointHash: string): Promise<StoredSubscription | null> {
    const value = await this.redis.hget(this.userKey(user), endpointHash);
    return value ? this.open(user, endpointHash, value) : null;
  }

  private open(user: string, endpointHash: string, value: string): StoredSubscription | null {
    try {
      return { endpointHash, ...(JSON.parse(this.codec.openValue(value, sealContext.pushSubscription(user, endpointHash))) as Omit<StoredSubscription, 'endpointHash'>) };
    } catch {
      return null;
    }
  }

  /** Rewrites every subscription under the current key; reports the ones that could not be opened. */
  async reseal(): Promise<{ resealed: number; current: number; unreadable: string[] }> {
    const out = { resealed: 0, current: 0, unreadable: [] as string[] };
    const head = this.userKey('');
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${head}*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const user = key.slice(head.length);
        for (const [endpointHash, value] of Object.entries(await this.redis.hgetall(key))) {
          let updated: string | null;
          try {
            updated = this.codec.resealValue(value, sealContext.pushSubscription(user, endpointHash));
          } catch {
            out.unreadable.push(`${user}/${endpointHash}`);
            continue;
          }
          if (updated === null) out.current++;
          else {
            // Only if unchanged meanwhile: a device re-subscribing during the reseal keeps its new entry.
            if (await replaceFieldIfUnchanged(this.redis, key, endpointHash, value, updated)) out.resealed++;
            else out.current++;
          }
        }
      }
    } while (cursor !== '0');
    return out;
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
