import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import nock from 'nock';
import request from 'supertest';
import type { Overview } from '../../src/admin/overview-types';
import { ACCEPTED_COUNTER } from '../../src/queues/intake';
import { SharedCounters } from '../../src/store/counters';
import { DestinationStatusStore } from '../../src/store/destination-status';
import { deleteByPrefix } from '../../src/store/keys';
import { scrapeMetrics, startGateway, uniquePrefix, untilGatewayDrained, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PRIMERO, primeroAnswer, RecordingPrimero } from '../support/primero-fake';

// Long enough that the overview and the metrics are read inside it, short enough to wait out.
const PAUSE_MS = 4000;
const PHONE = '+254700333444';
const NAME = 'Nyokabi';
const PERSONAL_DATA = [NAME, PHONE.slice(1)];

function referral(run = randomUUID()) {
  return {
    contact: { uuid: randomUUID(), urn: `tel:${PHONE}`, language: 'eng' },
    flow: { uuid: randomUUID(), name: 'Primero Gateway Referral' },
    run: { uuid: run },
    results: { name: { value: NAME, category: 'All Responses' }, consent: { value: 'yes', category: 'Yes' } },
  };
}

const postTo = (gw: Gateway, body: unknown) => request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));
const adminGet = (gw: Gateway, path: string) => request(gw.app).get(path).set('Authorization', `Bearer ${gw.config.ADMIN_TOKEN}`);
/** `npm run admin -- …` against the test gateway's Redis and prefix, with an operator's minimal environment (no destination settings). */
const runCli = (gw: Gateway, ...args: string[]) =>
  promisify(execFile)('npx', ['tsx', 'src/cli/admin.ts', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', REDIS_URL: gw.config.REDIS_URL, QUEUE_PREFIX: gw.config.QUEUE_PREFIX },
    cwd: `${__dirname}/../..`,
  });
const primeroState = (o: Overview) => o.destinations.find((d) => d.destination === 'primero');
/** One series' value from the metrics page, or undefined when the page lacks it. */
const series = (page: string, name: string, labels: string) => {
  const line = page.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};
/** A series as the next scrapes show it: the metrics page serves one overview read for several seconds. */
const scrapedUntil = (gw: Gateway, name: string, labels: string, value: number) => eventually(async () => series(await scrapeMetrics(gw), name, labels) === value, 30_000);
const HEALTHY = { state: 'healthy', reason: null, resumesAt: null, cause: null, pauses: [] };

describe('the overview with workers running', () => {
  let gw: Gateway;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    gw = await startGateway({ prefix: uniquePrefix('overview'), env: { AUTH_FAILURE_PAUSE_MS: String(PAUSE_MS), PRIMERO_POLL_INTERVAL_SECONDS: '0' } });
  });
  afterEach(() => nock.cleanAll());
  afterAll(async () => {
    await gw.close();
    nock.enableNetConnect();
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it('counts a dead letter (Primero 422) and names when the oldest failed', async () => {
    const primero = new RecordingPrimero(PRIMERO);
    primero.refuseCreates = 1;
    const { body } = await postTo(gw, referral());
    await eventually(async () => (await gw.queue.getJobState(`m-${body.reference}`)) === 'failed');
    const job = (await gw.queue.getJob(`m-${body.reference}`))!;
    expect((await request(gw.app).get('/admin/overview').set('Authorization', 'Bearer wrong-token-123')).status).toBe(401);
    const res = await adminGet(gw, '/admin/overview');
    expect(res.status).toBe(200);
    expect(res.body.dead_letters).toEqual({ count: 1, oldest_failed_at: new Date(job.finishedOn!).toISOString() });
    expect(res.body.queues.find((q: { queue: string }) => q.queue === 'intake')).toMatchObject({ failed: 1 });
    expect(res.body.destinations).toEqual([{ destination: 'primero', state: 'healthy', cause: null, reason: null, resumes_at: null, paused_queues: [] }]);
    expectNoPersonalData(res.text, PERSONAL_DATA);
  });

  it('shows Primero paused with its reason while it refuses the credentials (401), and healthy once the pause has passed', async () => {
    nock(PRIMERO).post('/api/v2/cases').reply((uri) => primeroAnswer('unauthorized', uri));
    const primero = new RecordingPrimero(PRIMERO, () => 'cp-after-401');
    const { body } = await postTo(gw, referral());
    const paused = await eventually(async () => {
      const state = primeroState(await gw.services.overview.read());
      return state?.state === 'paused' ? state : undefined;
    });
    const metrics = await scrapeMetrics(gw);
    expect(paused.reason).toBe("Primero refused the API user's credentials (401)");
    expect(Date.parse(paused.resumesAt!)).toBeGreaterThan(Date.now());
    expect(paused.cause).toBe('configuration');
    expect(paused.pauses.map((p) => p.queue)).toEqual(['intake']);
    const json = (await adminGet(gw, '/admin/overview')).body.destinations[0];
    expect(json).toMatchObject({ destination: 'primero', state: 'paused', cause: 'configuration', paused_queues: [{ queue: 'intake', cause: 'configuration', reason: paused.reason }] });
    expect(metrics).toMatch(/^gateway_overview_ok 1$/m);
    expect(series(metrics, 'gateway_destination_paused', 'destination="primero",cause="configuration"')).toBe(1);
    expect(series(metrics, 'gateway_destination_paused', 'destination="primero",cause="retry_after"')).toBe(0);
    expect(series(metrics, 'gateway_destination_pause_remaining_seconds', 'destination="primero"')).toBeGreaterThan(0);
    const link = await eventually(() => gw.references.get(body.reference), PAUSE_MS + 5000);
    // The held case was created once the pause passed: one create, the one the link names.
    expect(primero.created.map((c) => c.id)).toEqual([link.caseId]);
    expect(primeroState(await gw.services.overview.read())).toEqual({ destination: 'primero', ...HEALTHY });
    expect(primero.created).toHaveLength(1);
    await scrapedUntil(gw, 'gateway_destination_paused', 'destination="primero",cause="configuration"', 0);
  }, PAUSE_MS + 30000);

  it('keeps the reason an operator gives to the shell for a discard in the audit entry', async () => {
    const [letter] = await gw.queue.getFailed();
    const { stdout } = await runCli(gw, 'dead-letters', 'discard', `intake.${letter!.id}`, '--reason', 'the reporter sent it again', '--actor', 'ops.lead');
    expect(JSON.parse(stdout)).toMatchObject({ id: `intake.${letter!.id}` });
    expect((await gw.services.audit.recent(1))[0]).toMatchObject({ actor: 'ops.lead', action: 'dead_letter.discard', detail: { reason: 'the reporter sent it again' } });
    expect((await gw.services.overview.read()).deadLetters).toEqual({ count: 0, oldestFailedAt: null });
    expectNoPersonalData(stdout, PERSONAL_DATA);
  }, 30000);

  it('counts the records it created, by record type', async () => {
    await untilGatewayDrained(gw);
    // The 401 test's record; the 422's is a dead letter.
    expect((await gw.services.overview.read()).casesCreated).toBe(1);
    await scrapedUntil(gw, 'gateway_records_created_total', 'record_type="case"', 1);
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});

describe('the overview with no worker running', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGateway({ prefix: uniquePrefix('overview-backlog'), workers: false });
  });
  afterAll(async () => {
    await gw.close();
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it('counts accepted messages once each, not their duplicates, and shows the backlog they make and its age', async () => {
    const first = referral();
    expect((await postTo(gw, first)).body.duplicate).toBe(false);
    expect((await postTo(gw, first)).body.duplicate).toBe(true);
    expect((await postTo(gw, referral())).status).toBe(202);
    const overview = await gw.services.overview.read();
    expect(overview.messagesReceived).toBe(2);
    const intake = overview.queues.find((q) => q.queue === 'intake')!;
    expect(intake).toMatchObject({ waiting: 2, active: 0, delayed: 0, failed: 0 });
    // The oldest is the first stored: its age counts from its job's own creation time.
    const [oldest] = (await gw.queue.getWaiting()).sort((a, b) => a.timestamp - b.timestamp);
    expect(intake.oldestAgeSeconds).toBe(Math.max(0, Math.round((Date.parse(overview.generatedAt) - oldest!.timestamp) / 1000)));
    expect(overview.queues.find((q) => q.queue === 'push')).toMatchObject({ waiting: 0, oldestAgeSeconds: null });
  });

  it('publishes the accepted count, the destinations and the backlog ages on the metrics page', async () => {
    const metrics = await scrapeMetrics(gw);
    expect(series(metrics, 'gateway_messages_accepted_total', 'channel="rapidpro"')).toBe(2);
    expect(series(metrics, 'gateway_destination_paused', 'destination="primero",cause="configuration"')).toBe(0);
    expect(series(metrics, 'gateway_destination_paused', 'destination="primero",cause="retry_after"')).toBe(0);
    expect(series(metrics, 'gateway_destination_pause_remaining_seconds', 'destination="primero"')).toBe(0);
    // Destinations this gateway does not configure are not listed.
    expect(metrics).not.toContain('destination="push"');
    expect(series(metrics, 'gateway_queue_oldest_age_seconds', 'queue="intake"')).toBeGreaterThanOrEqual(0);
    expect(series(metrics, 'gateway_queue_oldest_age_seconds', 'queue="push"')).toBe(0);
    expectNoPersonalData(metrics, PERSONAL_DATA);
  });

  it("records each queue's pause as that queue's limiter has it: a later pause replaces the earlier, shorter or not", async () => {
    const prefix = uniquePrefix('overview-pauses');
    const store = new DestinationStatusStore(gw.redis, prefix);
    try {
      await store.recordPause('intake', { reason: 'long', cause: 'configuration' }, 60_000);
      await store.recordPause('intake', { reason: 'short', cause: 'retry_after' }, 1_000);
      const pause = (await store.pauses(['intake', 'primero-events'])).get('intake');
      expect(pause).toMatchObject({ reason: 'short', cause: 'retry_after' });
      expect(pause!.remainingMs).toBeLessThanOrEqual(1_000);
      expect((await store.pauses(['primero-events'])).size).toBe(0);
    } finally {
      await deleteByPrefix(gw.redis, prefix);
    }
  });

  it('prints the overview from the shell: npm run admin -- overview', async () => {
    const { stdout } = await runCli(gw, 'overview');
    const printed = JSON.parse(stdout) as Overview;
    expect(printed.messagesReceived).toBe(2);
    expect(printed.queues.find((q) => q.queue === 'intake')).toMatchObject({ waiting: 2 });
    expect(printed.destinations).toEqual([{ destination: 'primero', ...HEALTHY }]);
    expectNoPersonalData(stdout, PERSONAL_DATA);
  }, 30000);

  it('shows Primero paused by a Retry-After on primero-events alone, naming that queue, with the retry_after cause', async () => {
    const store = new DestinationStatusStore(gw.redis, gw.config.QUEUE_PREFIX);
    await store.recordPause('primero-events', { reason: 'Primero asked the gateway to wait (503)', cause: 'retry_after' }, 60_000);
    try {
      const primero = primeroState(await gw.services.overview.read())!;
      expect(primero).toMatchObject({ state: 'paused', reason: 'Primero asked the gateway to wait (503)', cause: 'retry_after' });
      expect(primero.pauses.map((p) => [p.queue, p.cause])).toEqual([['primero-events', 'retry_after']]);
      await scrapedUntil(gw, 'gateway_destination_paused', 'destination="primero",cause="retry_after"', 1);
      expect(series(await scrapeMetrics(gw), 'gateway_destination_paused', 'destination="primero",cause="configuration"')).toBe(0);
    } finally {
      await gw.redis.del(`${gw.config.QUEUE_PREFIX}:gw:destination-paused:primero-events`);
    }
    expect(primeroState(await gw.services.overview.read())).toMatchObject(HEALTHY);
  });

  it('ages a backlog by its oldest job, a retried one in the delayed set beside a fresh waiting one, and lists its destination though unconfigured', async () => {
    const replies = gw.services.registry.get('whatsapp-replies');
    const threeHoursAgo = Date.now() - 3 * 3600_000;
    // A job created three hours ago, failed once, due again in ten minutes (its delay counts from its creation).
    const retried = await replies.add('reply', { sealed: 'x' }, { timestamp: threeHoursAgo, delay: 3 * 3600_000 + 600_000 });
    await gw.redis.hset(replies.toKey(retried.id!), 'atm', '1', 'failedReason', 'WhatsApp answered 503 on send');
    await replies.add('reply', { sealed: 'y' });
    try {
      const overview = await gw.services.overview.read();
      const backlog = overview.queues.find((q) => q.queue === 'whatsapp-replies')!;
      expect(backlog).toMatchObject({ waiting: 1, delayed: 1 });
      const expected = Math.round((Date.parse(overview.generatedAt) - threeHoursAgo) / 1000);
      expect(backlog.oldestAgeSeconds).toBe(expected);
      // This gateway has no WhatsApp settings; its queue holds jobs, so the overview lists it.
      expect(overview.destinations.find((d) => d.destination === 'whatsapp')).toEqual({ destination: 'whatsapp', state: 'retrying', reason: 'WhatsApp answers 5xx', resumesAt: null, cause: null, pauses: [] });
      await eventually(async () => (series(await scrapeMetrics(gw), 'gateway_queue_oldest_age_seconds', 'queue="whatsapp-replies"') ?? 0) >= 3 * 3600, 30_000);
    } finally {
      await replies.obliterate({ force: true });
    }
  });

  it('acknowledges a stored message even when its count cannot be kept (the counter hash is of the wrong type)', async () => {
    const countersKey = new SharedCounters(gw.redis, gw.config.QUEUE_PREFIX).locate(ACCEPTED_COUNTER, {}).key;
    const kept = await gw.redis.hgetall(countersKey);
    await gw.redis.del(countersKey);
    await gw.redis.set(countersKey, 'not a hash');
    try {
      const res = await postTo(gw, referral());
      expect(res.status).toBe(202);
      expect(await gw.queue.getJobState(`m-${res.body.reference}`)).toBe('waiting');
    } finally {
      await gw.redis.del(countersKey);
      if (Object.keys(kept).length) await gw.redis.hset(countersKey, kept);
    }
  });

  it('never logs the personal data it handled', () => {
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});

describe('the overview of a gateway that starts RapidPro flows', () => {
  const RAPIDPRO = 'http://rapidpro-overview.test';
  const FLOW = 'a758539d-c2da-4c70-87f9-6b002084c35f';
  let gw: Gateway;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    // The notify flow is a message flow: starting it would interrupt the person's run, so the queue pauses.
    nock(RAPIDPRO)
      .persist()
      .get('/api/v2/flows.json')
      .query({ uuid: FLOW })
      .reply(200, { next: null, previous: null, results: [{ uuid: FLOW, name: 'Primero Gateway Case Update', type: 'message', archived: false }] });
    gw = await startGateway({
      prefix: uniquePrefix('overview-rapidpro'),
      env: { RAPIDPRO_URL: RAPIDPRO, RAPIDPRO_TOKEN: 'rapidpro-api-token-2', RAPIDPRO_NOTIFY_FLOW_UUID: FLOW, AUTH_FAILURE_PAUSE_MS: '60000', PRIMERO_POLL_INTERVAL_SECONDS: '0' },
    });
  });
  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it('lists RapidPro, paused by the flow fault with the gateway\'s reason, and Primero healthy beside it', async () => {
    // A status message for a record the gateway created (the worker reads its link before anything else).
    await gw.references.saveLink({ reference: 'K7M2P9QA', recordType: 'case', caseId: randomUUID(), caseIdDisplay: null, urn: `tel:${PHONE}`, channel: 'rapidpro', intent: 'referral', sensitive: false, createdAt: new Date().toISOString(), steps: {} });
    await gw.services.notifications.rapidpro!.notify({ urn: `tel:${PHONE}`, reference: 'K7M2P9QA', status: 'received' }, 'k-K7M2P9QA');
    const overview = await eventually(async () => {
      const o = await gw.services.overview.read();
      return o.destinations.some((d) => d.state === 'paused') ? o : undefined;
    });
    expect(overview.destinations.map((d) => [d.destination, d.state, d.reason])).toEqual([
      ['primero', 'healthy', null],
      ['rapidpro', 'paused', 'The RapidPro notify flow is not a background flow'],
    ]);
    const left = Date.parse(overview.destinations[1]!.resumesAt!) - Date.parse(overview.generatedAt);
    expect(left).toBeGreaterThan(50_000);
    expect(left).toBeLessThanOrEqual(60_000);
    // The job waits for the fix: nothing is lost meanwhile.
    expect(await gw.services.registry.get('rapidpro-notify').getJobCounts('failed')).toEqual({ failed: 0 });
    const metrics = await scrapeMetrics(gw);
    expect(series(metrics, 'gateway_destination_paused', 'destination="rapidpro",cause="configuration"')).toBe(1);
    expect(series(metrics, 'gateway_destination_paused', 'destination="rapidpro",cause="retry_after"')).toBe(0);
    expect(series(metrics, 'gateway_destination_pause_remaining_seconds', 'destination="rapidpro"')).toBeGreaterThan(50);
  });

  it("lists RapidPro paused from a shell that has none of RapidPro's settings", async () => {
    const { stdout } = await runCli(gw, 'overview');
    const printed = JSON.parse(stdout) as Overview;
    expect(printed.destinations.map((d) => [d.destination, d.state, d.cause])).toEqual([
      ['primero', 'healthy', null],
      ['rapidpro', 'paused', 'configuration'],
    ]);
    expectNoPersonalData(stdout, PERSONAL_DATA);
  }, 30000);

  it('never logs the personal data it handled', () => {
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});
