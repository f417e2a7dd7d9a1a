import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import nock from 'nock';
import request from 'supertest';
import type { Overview } from '../../src/admin/overview-types';
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
/** `npm run admin -- …` against the test gateway's Redis and prefix. */
const runCli = (gw: Gateway, ...args: string[]) =>
  promisify(execFile)('npx', ['tsx', 'src/cli/admin.ts', ...args], { env: { ...process.env, REDIS_URL: gw.config.REDIS_URL, QUEUE_PREFIX: gw.config.QUEUE_PREFIX }, cwd: `${__dirname}/../..` });
const primeroState = (o: Overview) => o.destinations.find((d) => d.destination === 'primero');
/** One series' value from the metrics page, or undefined when the page lacks it. */
const series = (page: string, name: string, labels: string) => {
  const line = page.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

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
    expect(res.body.destinations).toEqual([{ destination: 'primero', state: 'healthy', reason: null, resumes_at: null }]);
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
    expect(series(metrics, 'gateway_destination_paused', 'destination="primero"')).toBe(1);
    expect(series(metrics, 'gateway_destination_pause_remaining_seconds', 'destination="primero"')).toBeGreaterThan(0);
    const link = await eventually(() => gw.references.get(body.reference), PAUSE_MS + 5000);
    expect(link.caseIdDisplay).toBe('cp-after-401');
    expect(primeroState(await gw.services.overview.read())).toEqual({ destination: 'primero', state: 'healthy', reason: null, resumesAt: null });
    expect(primero.created).toHaveLength(1);
    expect(series(await scrapeMetrics(gw), 'gateway_destination_paused', 'destination="primero"')).toBe(0);
  }, PAUSE_MS + 15000);

  it('keeps the reason an operator gives to the shell for a discard in the audit entry', async () => {
    const [letter] = await gw.queue.getFailed();
    const { stdout } = await runCli(gw, 'dead-letters', 'discard', `intake.${letter!.id}`, '--reason', 'the reporter sent it again', '--actor', 'ops.lead');
    expect(JSON.parse(stdout)).toMatchObject({ id: `intake.${letter!.id}` });
    expect((await gw.services.audit.recent(1))[0]).toMatchObject({ actor: 'ops.lead', action: 'dead_letter.discard', detail: { reason: 'the reporter sent it again' } });
    expect((await gw.services.overview.read()).deadLetters).toEqual({ count: 0, oldestFailedAt: null });
    expectNoPersonalData(stdout, PERSONAL_DATA);
  }, 30000);

  it('counts the records it created', async () => {
    await untilGatewayDrained(gw);
    // The 401 test's record; the 422's is a dead letter.
    expect((await gw.services.overview.read()).casesCreated).toBe(1);
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
    const [oldest] = await gw.queue.getJobs(['waiting'], 0, 0, true);
    expect(intake.oldestAgeSeconds).toBe(Math.max(0, Math.round((Date.parse(overview.generatedAt) - oldest!.timestamp) / 1000)));
    expect(overview.queues.find((q) => q.queue === 'push')).toMatchObject({ waiting: 0, oldestAgeSeconds: null });
  });

  it('publishes the accepted count, the destinations and the backlog ages on the metrics page', async () => {
    const metrics = await scrapeMetrics(gw);
    expect(series(metrics, 'gateway_messages_accepted_total', 'channel="rapidpro"')).toBe(2);
    expect(series(metrics, 'gateway_destination_paused', 'destination="primero"')).toBe(0);
    expect(series(metrics, 'gateway_destination_pause_remaining_seconds', 'destination="primero"')).toBe(0);
    // Destinations this gateway does not configure are not listed.
    expect(metrics).not.toContain('destination="push"');
    expect(series(metrics, 'gateway_queue_oldest_age_seconds', 'queue="intake"')).toBeGreaterThanOrEqual(0);
    expect(series(metrics, 'gateway_queue_oldest_age_seconds', 'queue="push"')).toBe(0);
    expectNoPersonalData(metrics, PERSONAL_DATA);
  });

  it('keeps the longer of two pauses of one destination, with its reason', async () => {
    const prefix = uniquePrefix('overview-pauses');
    const store = new DestinationStatusStore(gw.redis, prefix);
    try {
      await store.recordPause('rapidpro', 'long', 60_000);
      await store.recordPause('rapidpro', 'short', 1_000);
      const pause = (await store.pauses(['primero', 'rapidpro'])).get('rapidpro');
      expect(pause?.reason).toBe('long');
      expect(pause!.remainingMs).toBeGreaterThan(1_000);
      expect((await store.pauses(['primero'])).size).toBe(0);
    } finally {
      await deleteByPrefix(gw.redis, prefix);
    }
  });

  it('prints the overview from the shell: npm run admin -- overview', async () => {
    const { stdout } = await runCli(gw, 'overview');
    const printed = JSON.parse(stdout) as Overview;
    expect(printed.messagesReceived).toBe(2);
    expect(printed.queues.find((q) => q.queue === 'intake')).toMatchObject({ waiting: 2 });
    expect(printed.destinations).toEqual([{ destination: 'primero', state: 'healthy', reason: null, resumesAt: null }]);
    expectNoPersonalData(stdout, PERSONAL_DATA);
  }, 30000);

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
    expect(series(metrics, 'gateway_destination_paused', 'destination="rapidpro"')).toBe(1);
    expect(series(metrics, 'gateway_destination_pause_remaining_seconds', 'destination="rapidpro"')).toBeGreaterThan(50);
  });

  it('never logs the personal data it handled', () => {
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});
