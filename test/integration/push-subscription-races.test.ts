import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/queues/connection';
import { PayloadCodec } from '../../src/security/payload-codec';
import { parseDataKey, Sealer } from '../../src/security/sealing';
import { deleteByPrefix } from '../../src/store/keys';
import { PushSubscriptionStore, type PushSubscription } from '../../src/store/push-subscriptions';
import { TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

const ENDPOINT = 'https://fcm.googleapis.com/fcm/send/device-1';
const subscription = (): PushSubscription => ({ endpoint: ENDPOINT, keys: { p256dh: randomBytes(65).toString('base64url'), auth: randomBytes(16).toString('base64url') } });

/**
 * A 410 for an old subscription must never remove one the browser made since, even when the enrollment lands
 * between the store's read of the entry and its delete (a caseworker would silently stop getting alerts).
 */
describe('removing a device its push service says is gone, while it is enrolled again', () => {
  const prefix = uniquePrefix('push-races');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const codec = new PayloadCodec(new Sealer(parseDataKey(randomBytes(32).toString('base64'))));
  const store = new PushSubscriptionStore(redis, prefix, codec);

  /** The same store, on a connection that runs `during` once each read of a device's entry has been answered. */
  const storeReadingBefore = (during: () => Promise<unknown>) => {
    const connection = new Proxy(redis as Redis, {
      get(target, prop) {
        if (prop === 'hget') {
          return async (key: string, field: string) => {
            const value = await target.hget(key, field);
            await during();
            return value;
          };
        }
        const member = Reflect.get(target, prop, target) as unknown;
        return typeof member === 'function' ? (member as (...args: unknown[]) => unknown).bind(target) : member;
      },
    });
    return new PushSubscriptionStore(connection, prefix, codec);
  };

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('keeps the subscription re-enrolled with new keys between the read and the delete', async () => {
    const stale = subscription();
    const id = await store.add('cp_alice', stale, 'eng');
    const fresh = subscription();
    expect(await storeReadingBefore(() => store.add('cp_alice', fresh, 'eng')).removeIfUnchanged('cp_alice', id, stale)).toBe(false);
    expect((await store.list('cp_alice')).map((d) => d.subscription)).toEqual([fresh]);
  });

  it("keeps another caseworker's ownership of the device enrolled for them between the read and the delete", async () => {
    const stale = subscription();
    const id = await store.add('cp_bob', stale, 'eng');
    const fresh = subscription();
    expect(await storeReadingBefore(() => store.add('cp_carol', fresh, 'eng')).removeIfUnchanged('cp_bob', id, stale)).toBe(false);
    expect((await store.list('cp_carol')).map((d) => d.subscription)).toEqual([fresh]);
    expect(await store.list('cp_bob')).toEqual([]);
  });

  it('removes the subscription the push was sent with, and only it', async () => {
    const stale = subscription();
    const id = await store.add('cp_dan', stale, 'eng');
    expect(await store.removeIfUnchanged('cp_dan', id, { ...stale, keys: { ...stale.keys, auth: randomBytes(16).toString('base64url') } })).toBe(false);
    expect(await store.list('cp_dan')).toHaveLength(1);
    expect(await store.removeIfUnchanged('cp_dan', id, stale)).toBe(true);
    expect(await store.list('cp_dan')).toEqual([]);
    expect(await store.devices('cp_dan')).toEqual([]);
  });
});
