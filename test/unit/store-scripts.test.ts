import { randomBytes } from 'node:crypto';
import { createRedis } from '../../src/queues/connection';
import { IdentifierHasher } from '../../src/security/identifier-hash';
import { ContactStore } from '../../src/store/contacts';
import { deleteByPrefix, gatewayKey } from '../../src/store/keys';
import { TraceStore } from '../../src/store/trace';
import { TEST_REDIS_URL, uniquePrefix } from '../support/gateway';
import { expectNoPersonalData } from '../support/personal-data';

const URN = 'tel:+250788123456';
const CONTACT = '6b1f0c1e-3c1e-4c3b-9a57-0d1f2e3a4b5c';

/** The intake worker's writes that now go by script hash: what an operator reads back is as before, also after Redis forgets its scripts. */
describe('trace and sender index written by script', () => {
  const prefix = uniquePrefix('store-scripts');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const trace = new TraceStore(redis, prefix, 180);
  const contacts = new ContactStore(redis, prefix, new IdentifierHasher(randomBytes(32)));

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('keeps a message timeline in order, with its retention, before and after Redis flushes its script cache (a restart)', async () => {
    await trace.recordAll('REF1', [
      { event: 'received', detail: { channel: 'rapidpro' }, at: new Date('2026-01-01T00:00:00Z') },
      { event: 'stored', at: new Date('2026-01-01T00:00:01Z') },
    ]);
    await redis.script('FLUSH');
    await trace.record('REF1', 'record_created', { recordId: 'r1' }, new Date('2026-01-01T00:00:02Z'));
    expect((await trace.timeline('REF1')).map((e) => e.event)).toEqual(['received', 'stored', 'record_created']);
    const ttl = await redis.ttl(gatewayKey(prefix, 'trace', 'REF1'));
    expect(ttl).toBeGreaterThan(179 * 86400);
  });

  it('finds the reference by the URN and by the contact UUID, each index key with its retention', async () => {
    await redis.script('FLUSH');
    await contacts.indexReference([URN, CONTACT], 'REF2', 30);
    expect(await contacts.referencesOf(URN)).toEqual(['REF2']);
    expect(await contacts.referencesOf(CONTACT)).toEqual(['REF2']);
    const keys = await redis.keys(`${prefix}:gw:contact-refs:*`);
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(await redis.ttl(key)).toBeGreaterThan(29 * 86400);
  });

  it('names no sender in a key', async () => {
    expectNoPersonalData(await redis.keys(`${prefix}:*`), [URN, CONTACT, '250788123456']);
  });
});
