import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { shippedMappings, startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway, untilGatewayDrained } from '../support/gateway';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PRIMERO, RecordingPrimero } from '../support/primero-fake';

// Long enough that a wrongly paused queue cannot finish the next message inside the test's wait.
const PAUSE_MS = 8000;

function referral(run = randomUUID()) {
  return {
    contact: { uuid: randomUUID(), urn: 'tel:+254700111222', language: 'eng' },
    flow: { uuid: randomUUID(), name: 'Primero Gateway Referral' },
    run: { uuid: run },
    results: { name: { value: 'Zawadi', category: 'All Responses' }, consent: { value: 'yes', category: 'Yes' } },
  };
}

describe('a Primero 403 is judged by the call it answered', () => {
  const PERSONAL_DATA = ['Zawadi'];
  let gw: Gateway;
  const post = (body: unknown) => request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    const mappings = shippedMappings();
    mappings.set('referral', { ...mappings.get('referral')!, referral: { transitioned_to: 'cp_caseworker', notes: 'From SMS intake' } });
    gw = await startGateway({ prefix: uniquePrefix('forbidden'), mappings, env: { AUTH_FAILURE_PAUSE_MS: String(PAUSE_MS) } });
  });
  afterEach(() => nock.cleanAll());
  afterAll(async () => {
    await gw.close();
    nock.enableNetConnect();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it('dead-letters the one job whose record is out of scope, with the reason, and keeps intake running', async () => {
    // The first case referred is out of the API user's scope; every other referral is made.
    const primero = new RecordingPrimero(PRIMERO, () => 'cp-403');
    let forbiddenCase = '';
    primero.refusesReferral = (id) => (forbiddenCase ||= id) === id;
    const referred = () => primero.referralPosts.filter((id) => id !== forbiddenCase);
    const first = await post(referral());
    const jobId = `m-${first.body.reference}`;
    const failed = await eventually(async () => ((await gw.queue.getJobState(jobId)) === 'failed' ? gw.queue.getJob(jobId) : undefined));
    expect(failed!.failedReason).toBe("Primero refused access to the record on the referral (403): it is outside the API user's scope");
    expect(failed!.attemptsMade).toBe(1);

    const started = Date.now();
    const second = await post(referral());
    await eventually(async () => (await gw.references.get(second.body.reference))?.steps.referredAt, PAUSE_MS / 2);
    expect(Date.now() - started).toBeLessThan(PAUSE_MS / 2);
    expect(referred()).toHaveLength(1);
    expect(gw.logs.text).not.toContain('CONFIGURATION FAULT');
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});

// Its own gateway with a short pause: the test waits the pause out, and the 1 s limiter window must stay below it.
const CREATE_PAUSE_MS = 2500;

describe('a Primero 403 on a create', () => {
  const PERSONAL_DATA = ['Zawadi'];
  let gw: Gateway;
  const post = (body: unknown) => request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    gw = await startGateway({ prefix: uniquePrefix('forbidden-create'), env: { AUTH_FAILURE_PAUSE_MS: String(CREATE_PAUSE_MS) } });
  });
  afterEach(() => nock.cleanAll());
  afterAll(async () => {
    await gw.close();
    nock.enableNetConnect();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it('pauses intake on a 403 to a create (the role cannot create cases), and resumes once Primero accepts', async () => {
    // The first create is refused (403), the next is accepted.
    const primero = new RecordingPrimero(PRIMERO, () => 'cp-after-403');
    primero.forbiddenCreates = 1;
    const res = await post(referral());
    await eventually(() => gw.logs.text.includes('PRIMERO CONFIGURATION FAULT'));
    // Beyond the 1 s window of the queue's own rate limiter: this is the configuration pause.
    expect(await gw.queue.getRateLimitTtl()).toBeGreaterThan(1000);
    const link = await eventually(() => gw.references.get(res.body.reference), CREATE_PAUSE_MS + 5000);
    expect(link.caseIdDisplay).toBeNull();
    // The refused create, then the one accepted: one case, and no read-back. (On a loaded machine an accepted create's
    // answer can come after the client's timeout: its retry is answered 409 and stores nothing, so calls may be 3.)
    expect(primero.createCalls).toBeGreaterThanOrEqual(2);
    expect(primero.created).toHaveLength(1);
    expect(primero.reads.filter((r) => r.id === link.caseId)).toHaveLength(0);
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});
