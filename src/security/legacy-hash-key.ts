import type { Config } from '../config';
import { createRedis, waitForRedis } from '../queues/connection';
import { contactKeys } from '../store/contact-keys';
import { ContactStore } from '../store/contacts';
import { hasherFromConfig } from './identifier-hash';

/**
 * The start refuses while Redis still holds the hash key of versions before #13 and it is not configured:
 * every opt-out hashed with it would be missed, and a person who said STOP would be messaged again.
 */
export async function legacyHashKeyProblem(config: Config): Promise<string | null> {
  const redis = createRedis(config, 'worker');
  redis.on('error', () => undefined);
  try {
    await waitForRedis(redis, 30000);
    const state = await new ContactStore(redis, config.QUEUE_PREFIX, hasherFromConfig(config)).legacyHashKey();
    if (state !== 'unconfigured') return null;
    return `HASH_KEY_PREVIOUS: Redis holds the hash key of an earlier version (${contactKeys(config.QUEUE_PREFIX).legacyHashKey()}); add its value to HASH_KEY_PREVIOUS so its opt-outs are still honoured, then run npm run admin -- reseal`;
  } finally {
    await redis.quit().catch(() => undefined);
  }
}
