import { Queue, RateLimitError, UnrecoverableError } from 'bullmq';
import { DeliveryError, type FailureKind } from '../../src/clients/delivery-error';
import { createLogger } from '../../src/logger';
import { createRedis } from '../../src/queues/connection';
import { deleteByPrefix } from '../../src/store/keys';
import { rethrowForQueue } from '../../src/queues/failure-policy';
import { QUEUES } from '../../src/queues/names';
import { LogCapture, TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

const CONFIG_PAUSE_MS = 4_000;

/** Each DeliveryError → what the worker throws, and whether (and how long) the whole queue is paused. */
describe('rethrowForQueue: a failed call → BullMQ', () => {
  const prefix = uniquePrefix('rethrow');
  const redis = createRedis(TEST_REDIS_URL, 'producer');
  const queue = new Queue('intake', { connection: redis, prefix });
  const logs = new LogCapture();
  const logger = createLogger('debug', logs);

  afterEach(async () => {
    await redis.del(`${prefix}:intake:limiter`);
  });

  afterAll(async () => {
    await queue.close();
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  const rows: Array<[kind: FailureKind, status: number | null, retryAfterMs: number | null, thrown: 'UnrecoverableError' | 'RateLimitError' | 'the error', pausedMs: number | null]> = [
    ['permanent', 422, null, 'UnrecoverableError', null],
    ['permanent', 403, null, 'UnrecoverableError', null],
    ['configuration', 401, null, 'RateLimitError', CONFIG_PAUSE_MS],
    ['configuration', 403, null, 'RateLimitError', CONFIG_PAUSE_MS],
    ['transient', 503, 7_000, 'RateLimitError', 7_000],
    ['transient', 429, 9_000, 'RateLimitError', 9_000],
    ['transient', 503, null, 'the error', null],
    ['transient', 500, 7_000, 'the error', null],
    ['transient', null, null, 'the error', null],
  ];

  it.each(rows)('%s (%p, Retry-After %p) → throws %s, queue paused for %p ms', async (kind, status, retryAfterMs, thrown, pausedMs) => {
    const err = new DeliveryError('primero', kind, status, `primero answered ${status}`, retryAfterMs);
    const caught: unknown = await rethrowForQueue(err, queue, logger, CONFIG_PAUSE_MS).catch((e: unknown) => e);
    if (thrown === 'UnrecoverableError') {
      expect(caught).toBeInstanceOf(UnrecoverableError);
      expect(caught).toMatchObject({ message: err.message });
    } else if (thrown === 'RateLimitError') {
      expect(caught).toBeInstanceOf(RateLimitError);
    } else {
      expect(caught).toBe(err);
    }
    const ttl = await queue.getRateLimitTtl();
    if (pausedMs === null) expect(ttl).toBeLessThanOrEqual(0);
    else {
      expect(ttl).toBeGreaterThan(pausedMs - 1_000);
      expect(ttl).toBeLessThanOrEqual(pausedMs);
    }
  });

  /** The queues whose call is itself a message to a person: a lost answer there may have reached them. */
  const TO_THE_PERSON: readonly string[] = [QUEUES.whatsappReplies, QUEUES.africastalkingReplies, QUEUES.rapidproNotify];

  it.each(Object.values(QUEUES))('a call on %s whose answer was lost (maybe sent): dead letter if it messages a person, else retried', async (name) => {
    const handle = new Queue(name, { connection: redis, prefix });
    try {
      const err = new DeliveryError('RapidPro', 'transient', null, 'RapidPro did not answer the flow start (ECONNABORTED)', null, { is: 'maybe_sent' });
      const caught: unknown = await rethrowForQueue(err, handle, logger, CONFIG_PAUSE_MS).catch((e: unknown) => e);
      if (TO_THE_PERSON.includes(name)) {
        expect(caught).toBeInstanceOf(UnrecoverableError);
        expect(caught).toMatchObject({ message: `not sent again, it may have gone out: ${err.message}` });
      } else {
        expect(caught).toBe(err);
      }
      expect(await handle.getRateLimitTtl()).toBeLessThanOrEqual(0);
    } finally {
      await handle.close();
    }
  });

  it('rethrows anything that is not a DeliveryError unchanged, and pauses nothing', async () => {
    const err = new TypeError('a bug');
    await expect(rethrowForQueue(err, queue, logger, CONFIG_PAUSE_MS)).rejects.toBe(err);
    expect(await queue.getRateLimitTtl()).toBeLessThanOrEqual(0);
  });

  it('says loudly which service is misconfigured when it pauses the queue', async () => {
    await rethrowForQueue(new DeliveryError('rapidpro', 'configuration', 401, 'rapidpro refused'), queue, logger, CONFIG_PAUSE_MS).catch(() => undefined);
    expect(logs.text).toContain('RAPIDPRO CONFIGURATION FAULT');
    expect(logs.text).toContain(`"pauseMs":${CONFIG_PAUSE_MS}`);
  });
});
