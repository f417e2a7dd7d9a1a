import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RedisConnection } from '../queues/connection';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { gatewayKey, replaceFieldIfUnchanged, scanKeys } from './keys';
import { ENROLL, REMOVE_IF_SAME, RENEW } from './push-subscription-scripts';

export interface PushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** An enrolled device as an operator sees it: its id (a hash, never the endpoint) and the push service's host. */
export interface DeviceView {
  id: string;
  user_name: string;
  service: string;
  language: string;
  expires_at: string | null;
  /** Expires within `expiryWarningSeconds`: no delivery has reached it for a while; re-enroll it or let it go. */
  expiring_soon: boolean;
}

export interface StoredSubscription {
  endpointHash: string;
  subscription: PushSubscription;
  language: string;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);
const sameSubscription = (a: PushSubscription, b: PushSubscription) => a.endpoint === b.endpoint && a.keys.p256dh === b.keys.p256dh && a.keys.auth === b.keys.auth;
/** The subscription's auth secret compared in constant time (digests first: equal lengths, nothing leaked by length). */
const sameSecret = (given: string, stored: string) => timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(stored).digest());

/**
 * Caseworkers' browsers, per Primero user name. Endpoints and keys are sealed with DATA_KEY; a one-time
 * enrollment token (stored hashed) is how a device proves an operator vouched for it.
 */
export class PushSubscriptionStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    private readonly codec: PayloadCodec,
    /** PUSH_SUBSCRIPTION_TTL_DAYS: the owner key's expiry, renewed at each (re-)subscription and each delivery. */
    private readonly ttlSeconds = 90 * 86_400,
  ) {}

  private userKey(user: string): string {
    return gatewayKey(this.prefix, 'push', 'user', user);
  }

  private ownerKey(endpointHash: string): string {
    return gatewayKey(this.prefix, 'push', 'endpoint', endpointHash);
  }

  /** A device is "expiring soon" this long before its expiry: 14 days, or half the TTL when that is shorter. */
  get expiryWarningSeconds(): number {
    return Math.min(14 * 86_400, Math.floor(this.ttlSeconds / 2));
  }

  /** After a successful delivery: the device's expiry starts over (it expires only when nothing reaches it). */
  async renew(user: string, endpointHash: string): Promise<boolean> {
    return (await this.redis.eval(RENEW, 2, this.ownerKey(endpointHash), this.userKey(user), user, this.ttlSeconds)) === 1;
  }

  /** How many devices, of all users, expire within expiryWarningSeconds (for a metric: a count, no names). */
  async expiringCount(): Promise<number> {
    let count = 0;
    for await (const keys of scanKeys(this.redis, this.ownerKey('*'))) {
      if (keys.length === 0) continue;
      const read = this.redis.pipeline();
      for (const k of keys) read.ttl(k);
      for (const [, ttl] of (await read.exec()) ?? []) if (typeof ttl === 'number' && ttl >= 0 && ttl < this.expiryWarningSeconds) count++;
    }
    return count;
  }

  async createEnrollment(user: string, ttlSeconds: number): Promise<string> {
    const token = randomBytes(24).toString('base64url');
    await this.redis.set(gatewayKey(this.prefix, 'push', 'enroll', hash(token)), user, 'EX', ttlSeconds);
    return token;
  }

  /**
   * Whether a token would open an enrollment now, without spending it: the subscription route asks this before it
   * looks the push service up, so a caller without a live link cannot make the gateway resolve names for it.
   */
  async enrollmentIsLive(token: string): Promise<boolean> {
    return (await this.redis.exists(gatewayKey(this.prefix, 'push', 'enroll', hash(token)))) === 1;
  }

  /** One use only: GETDEL, so a token shared or replayed after enrollment opens nothing. */
  async consumeEnrollment(token: string): Promise<string | null> {
    return this.redis.getdel(gatewayKey(this.prefix, 'push', 'enroll', hash(token)));
  }

  async add(user: string, subscription: PushSubscription, language: string): Promise<string> {
    return (await this.enroll(user, subscription, language)).id;
  }

  /**
   * Stores a device for `user`, taking it from any other user it was enrolled for. The owner key (with the
   * expiry) is what makes an entry live; the user's hash expires with its newest device, and an entry whose
   * owner key has gone or moved is dropped when next read.
   */
  async enroll(user: string, subscription: PushSubscription, language: string): Promise<{ id: string; previousOwner: string | null }> {
    const endpointHash = hash(subscription.endpoint);
    const value = this.codec.sealValue(JSON.stringify({ subscription, language }), sealContext.pushSubscription(user, endpointHash));
    const previous = (await this.redis.eval(ENROLL, 2, this.userKey(user), this.ownerKey(endpointHash), endpointHash, value, user, this.ttlSeconds, this.userKey(''))) as string | null;
    return { id: endpointHash, previousOwner: previous ?? null };
  }

  /**
   * The entries of `user` that are still live (owner key present and naming this user); stale ones are removed.
   * An owner key from before expiries existed gets one now, so old devices age out too.
   */
  private async live(user: string, endpointHashes: string[]): Promise<Map<string, number | null>> {
    const alive = new Map<string, number | null>();
    if (endpointHashes.length === 0) return alive;
    const read = this.redis.pipeline();
    for (const h of endpointHashes) read.get(this.ownerKey(h)).pttl(this.ownerKey(h));
    const answers = ((await read.exec()) ?? []).map(([, v]) => v);
    const stale: string[] = [];
    const adopt = this.redis.pipeline();
    endpointHashes.forEach((h, i) => {
      const owner = answers[2 * i] as string | null;
      const pttl = answers[2 * i + 1] as number;
      if (owner !== user) return void stale.push(h);
      if (pttl === -1) adopt.expire(this.ownerKey(h), this.ttlSeconds);
      alive.set(h, pttl > 0 ? Date.now() + pttl : pttl === -1 ? Date.now() + this.ttlSeconds * 1000 : null);
    });
    if (stale.length) adopt.hdel(this.userKey(user), ...stale);
    if (adopt.length) await adopt.exec();
    return alive;
  }

  /** The live devices of `user`, for an operator: ids, push service hosts, languages and expiries. */
  async devices(user: string): Promise<DeviceView[]> {
    const listed = await this.list(user);
    const expiry = await this.live(user, listed.map((d) => d.endpointHash));
    return listed.map((d) => {
      const at = expiry.get(d.endpointHash);
      const expiringSoon = at !== null && at !== undefined && at - Date.now() < this.expiryWarningSeconds * 1000;
      return { id: d.endpointHash, user_name: user, service: new URL(d.subscription.endpoint).host, language: d.language, expires_at: at ? new Date(at).toISOString() : null, expiring_soon: expiringSoon };
    });
  }

  /** Revokes a device by its id, whoever it belongs to; returns its owner, or null if unknown. */
  async revoke(id: string): Promise<string | null> {
    const user = await this.redis.get(this.ownerKey(id));
    if (!user) return null;
    await this.redis.multi().hdel(this.userKey(user), id).del(this.ownerKey(id)).exec();
    return user;
  }

  /**
   * The user's devices that can be opened. One sealed under a key no longer configured is left out (and
   * counted by `reseal`), so a lost key costs that device its notifications, never someone's referral.
   */
  async list(user: string): Promise<StoredSubscription[]> {
    const stored = await this.redis.hgetall(this.userKey(user));
    const alive = await this.live(user, Object.keys(stored));
    return Object.entries(stored).flatMap(([endpointHash, value]) => {
      const opened = alive.has(endpointHash) ? this.open(user, endpointHash, value) : null;
      return opened ? [opened] : [];
    });
  }

  async get(user: string, endpointHash: string): Promise<StoredSubscription | null> {
    const value = await this.redis.hget(this.userKey(user), endpointHash);
    return value && (await this.live(user, [endpointHash])).has(endpointHash) ? this.open(user, endpointHash, value) : null;
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
    for await (const keys of scanKeys(this.redis, `${head}*`)) {
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
    }
    return out;
  }

  /** Removes a device; returns its id and owner, or null. The caller proves it holds the subscription by its auth secret. */
  async removeByDevice(endpoint: string, auth: string): Promise<{ id: string; user: string } | null> {
    const endpointHash = hash(endpoint);
    const user = await this.redis.get(this.ownerKey(endpointHash));
    if (!user) return null;
    const stored = await this.get(user, endpointHash);
    if (!stored || !sameSecret(auth, stored.subscription.keys.auth)) return null;
    await this.redis.multi().hdel(this.userKey(user), endpointHash).del(this.ownerKey(endpointHash)).exec();
    return { id: endpointHash, user };
  }

  /**
   * After a 404/410: removes the subscription only if it still is the one the push was sent with. The endpoint
   * alone says nothing (the entry is keyed by it): a browser re-subscribing while the push was in flight may keep
   * its endpoint with new keys, and that subscription is alive. The delete is conditional on the entry read here,
   * so one re-enrolled between this read and the delete stays too.
   */
  async removeIfUnchanged(user: string, endpointHash: string, sent: PushSubscription): Promise<boolean> {
    const value = await this.redis.hget(this.userKey(user), endpointHash);
    if (value === null) return false;
    const stored = this.open(user, endpointHash, value);
    if (!stored || !sameSubscription(stored.subscription, sent)) return false;
    return (await this.redis.eval(REMOVE_IF_SAME, 2, this.userKey(user), this.ownerKey(endpointHash), endpointHash, value, user)) === 1;
  }
}
