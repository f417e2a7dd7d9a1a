import type { Overview, OverviewReader } from '../../src/admin/overview-types';
import { GatewayMetrics } from '../../src/http/metrics';
import { createRedis } from '../../src/queues/connection';
import { SharedCounters } from '../../src/store/counters';
import { deleteByPrefix } from '../../src/store/keys';
import { TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

const generatedAt = '2026-12-02T04:00:00.000Z';
const OVERVIEW: Overview = {
  generatedAt,
  messagesReceived: 3,
  casesCreated: 2,
  deadLetters: { count: 0, oldestFailedAt: null },
  queues: [{ queue: 'intake', waiting: 1, active: 0, delayed: 0, failed: 0, oldestAgeSeconds: 42 }],
  destinations: [
    {
      destination: 'primero',
      state: 'paused',
      reason: 'Primero asked the gateway to wait (503)',
      resumesAt: '2026-12-02T04:01:30.000Z',
      cause: 'retry_after',
      pauses: [{ queue: 'primero-events', cause: 'retry_after', reason: 'Primero asked the gateway to wait (503)', resumesAt: '2026-12-02T04:01:30.000Z' }],
    },
  ],
};

/** A reader that counts its reads and answers, or fails, as told. */
function reader(answer: () => Promise<Overview>): OverviewReader & { reads: number } {
  const r = { reads: 0, read: () => { r.reads += 1; return answer(); } };
  return r;
}

describe('the overview on the metrics page', () => {
  const prefix = uniquePrefix('overview-metrics');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const counters = new SharedCounters(redis, prefix);

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('publishes each destination once per cause, what is left of its pause and the backlog age, and says the read succeeded', async () => {
    const page = await new GatewayMetrics([], counters, null, reader(async () => OVERVIEW)).render();
    expect(page).toMatch(/^gateway_overview_ok 1$/m);
    expect(page).toMatch(/^gateway_destination_paused\{destination="primero",cause="retry_after"\} 1$/m);
    expect(page).toMatch(/^gateway_destination_paused\{destination="primero",cause="configuration"\} 0$/m);
    expect(page).toMatch(/^gateway_destination_pause_remaining_seconds\{destination="primero"\} 90$/m);
    expect(page).toMatch(/^gateway_queue_oldest_age_seconds\{queue="intake"\} 42$/m);
  });

  it('still renders the rest of the page when the overview cannot be read, with gateway_overview_ok 0 and no overview series', async () => {
    counters.increment('gateway_jobs_total', { queue: 'intake', outcome: 'completed' });
    // The increment is fire and forget: a later command on the same connection is answered after it has landed.
    await redis.ping();
    const page = await new GatewayMetrics([], counters, null, reader(() => Promise.reject(new Error('Connection is closed.')))).render();
    expect(page).toMatch(/^gateway_overview_ok 0$/m);
    expect(page).not.toContain('gateway_destination_paused');
    expect(page).not.toContain('gateway_queue_oldest_age_seconds');
    expect(page).toMatch(/^gateway_jobs_total\{queue="intake",outcome="completed"\} 1$/m);
  });

  it('reads the overview once for scrapes close together, and again after a failed read', async () => {
    const steady = reader(async () => OVERVIEW);
    const metrics = new GatewayMetrics([], counters, null, steady);
    await Promise.all([metrics.render(), metrics.render()]);
    await metrics.render();
    expect(steady.reads).toBe(1);

    let fail = true;
    const flaky = reader(() => (fail ? Promise.reject(new Error('timeout')) : Promise.resolve(OVERVIEW)));
    const warnings: unknown[] = [];
    const recovering = new GatewayMetrics([], counters, null, flaky, { warn: (obj: unknown) => warnings.push(obj) } as never);
    expect(await recovering.render()).toMatch(/^gateway_overview_ok 0$/m);
    expect(await recovering.render()).toMatch(/^gateway_overview_ok 0$/m);
    // Said once for the run of failures, with the error's own words (the runbook sends the operator to the log).
    expect(warnings).toEqual([{ error: 'timeout' }]);
    fail = false;
    expect(await recovering.render()).toMatch(/^gateway_overview_ok 1$/m);
    expect(warnings).toEqual([{ error: 'timeout' }, {}]);
    expect(flaky.reads).toBe(3);
  });
});
