import { Queue } from 'bullmq';
import { DeliveryError } from '../../src/clients/delivery-error';
import { createLogger } from '../../src/logger';
import { createRedis } from '../../src/queues/connection';
import { recordPausesOf, rethrowForQueue } from '../../src/queues/failure-policy';
import { DestinationStatusStore } from '../../src/store/destination-status';
import { deleteByPrefix } from '../../src/store/keys';
import { LogCapture, TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

const CONFIG_PAUSE_MS = 60_000;
const credentialsRefused = () => new DeliveryError('Primero', 'configuration', 401, 'Primero answered 401 on create case');
const waitAsked = (ms: number) => new DeliveryError('Primero', 'transient', 503, 'Primero answered 503 on create case', ms);

/** The overview's record of a queue's pause follows the pause BullMQ actually keeps for that queue. */
describe('the pause record of a queue', () => {
  const prefix = uniquePrefix('pause-records');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const store = new DestinationStatusStore(redis, prefix);
  const recorded = new Queue('intake', { connection: redis, prefix });
  const unregistered = new Queue('primero-events', { connection: redis, prefix });
  const logs = new LogCapture();
  const logger = createLogger('debug', logs);
  recordPausesOf(recorded, store);

  afterAll(async () => {
    await Promise.all([recorded.close(), unregistered.close()]);
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('names a credentials pause with the configuration cause, for as long as the queue is paused', async () => {
    await rethrowForQueue(credentialsRefused(), recorded, logger, CONFIG_PAUSE_MS).catch(() => undefined);
    const pause = (await store.pauses(['intake'])).get('intake')!;
    expect(pause).toMatchObject({ reason: "Primero refused the API user's credentials (401)", cause: 'configuration' });
    expect(Math.abs(pause.remainingMs - (await recorded.getRateLimitTtl()))).toBeLessThan(1_000);
  });

  it('is replaced by a later, shorter Retry-After, as BullMQ replaces the queue\'s limiter: record and pause end together', async () => {
    await rethrowForQueue(waitAsked(5_000), recorded, logger, CONFIG_PAUSE_MS).catch(() => undefined);
    const limiter = await recorded.getRateLimitTtl();
    expect(limiter).toBeLessThanOrEqual(5_000);
    const pause = (await store.pauses(['intake'])).get('intake')!;
    expect(pause).toMatchObject({ reason: 'Primero asked the gateway to wait (503)', cause: 'retry_after' });
    expect(pause.remainingMs).toBeLessThanOrEqual(5_000);
    expect(Math.abs(pause.remainingMs - limiter)).toBeLessThan(1_000);
  });

  it('is missing for a destination queue handle built without a store, and that is said once in the log', async () => {
    await rethrowForQueue(waitAsked(2_000), unregistered, logger, CONFIG_PAUSE_MS).catch(() => undefined);
    await rethrowForQueue(credentialsRefused(), unregistered, logger, CONFIG_PAUSE_MS).catch(() => undefined);
    expect(await unregistered.getRateLimitTtl()).toBeGreaterThan(0);
    expect((await store.pauses(['primero-events'])).size).toBe(0);
    const warnings = logs.lines.filter((l) => l.includes('no pause record store'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ queue: 'primero-events' });
  });
});
