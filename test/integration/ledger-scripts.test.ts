import { randomUUID } from 'node:crypto';
import { createRedis } from '../../src/queues/connection';
import { AcceptanceLedger } from '../../src/store/acceptances';
import { deleteByPrefix } from '../../src/store/keys';
import { TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

/** The ledger's scripts go by their SHA1: a Redis that has forgotten them (restarted, SCRIPT FLUSH) must still answer. */
describe('the acceptance ledger after Redis lost its scripts', () => {
  const prefix = uniquePrefix('ledger-scripts');
  const redis = createRedis(TEST_REDIS_URL, 'producer');
  const ledger = new AcceptanceLedger(redis, prefix, 3600);

  beforeAll(() => redis.connect());
  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('claims, confirms and lets a worker begin as before', async () => {
    const first = await ledger.claim(`key-${randomUUID()}`, 'AAAA2222', randomUUID(), 5000);
    expect(first.fresh).toBe(true);
    await redis.script('FLUSH');
    const key = `key-${randomUUID()}`;
    const acceptanceId = randomUUID();
    const claimed = await ledger.claim(key, 'BBBB3333', acceptanceId, 5000);
    expect(claimed).toMatchObject({ fresh: true, acceptance: { reference: 'BBBB3333', stored: false } });
    await redis.script('FLUSH');
    expect(await ledger.markStored(key, acceptanceId)).toBe('stored');
    await redis.script('FLUSH');
    expect(await ledger.begin(key, acceptanceId)).toBe('proceed');
    expect((await ledger.claim(key, 'CCCC4444', randomUUID(), 5000)).acceptance.reference).toBe('BBBB3333');
  });
});
