import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import request from 'supertest';
import { untilGatewayDrained, shippedMappings, startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { PRIMERO, primeroAcceptsOnce } from '../support/primero-fake';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'rapidpro');
const defaultEditorBody = readFileSync(path.join(FIXTURES, 'webhook-body-default-editor.json'), 'utf8');
const legacyBody = readFileSync(path.join(FIXTURES, 'webhook-body-legacy-full.json'), 'utf8');

const CHILD = {
  name: 'Amina Wanjiru Otieno',
  phone: '+254712345678',
  concern: 'my uncle hits me every night',
  location: 'behind the Kibera market',
};

/** The body our shipped referral flow posts (flows/referral.flow.json). */
const yesNoCategory = (answer: string) => ({ yes: 'Yes', no: 'No' } as Record<string, string>)[answer] ?? 'Other';

/** `safe: null` is a run of an older flow that never asked whether messages to the phone are safe. */
function referralBody(overrides: { consent?: string; consentCategory?: string; age?: string; run?: string; safe?: string | null; safeCategory?: string } = {}) {
  const safe = overrides.safe === undefined ? 'yes' : overrides.safe;
  return {
    contact: { uuid: randomUUID(), urn: `tel:${CHILD.phone}`, language: 'eng' },
    flow: { uuid: '2b6e8c4e-8f65-4c1e-9a56-0a4b6f3f2d11', name: 'Primero Gateway Referral' },
    run: { uuid: overrides.run ?? randomUUID() },
    node: 'd1aa3a56-0947-4bad-9030-16a505d51b9b',
    results: {
      name: { value: CHILD.name, category: 'All Responses' },
      age: { value: overrides.age ?? '14', category: 'Valid' },
      sex: { value: 'girl', category: 'Female' },
      location: { value: CHILD.location, category: 'All Responses' },
      concern: { value: CHILD.concern, category: 'All Responses' },
      consent: { value: overrides.consent ?? 'yes', category: overrides.consentCategory ?? yesNoCategory(overrides.consent ?? 'yes') },
      ...(safe === null ? {} : { safe_to_contact: { value: safe, category: overrides.safeCategory ?? yesNoCategory(safe) } }),
    },
  };
}

const post = (gw: Gateway, body: unknown, token = WEBHOOK_TOKEN) =>
  request(gw.app)
    .post('/webhooks/rapidpro/referral')
    .set('Authorization', `Token ${token}`)
    .set('Content-Type', 'application/json')
    .send(JSON.stringify(body));

describe('POST /webhooks/rapidpro/referral', () => {
  const UNCLEAR_SAFETY = 'only when my uncle is at work';
  // "If he reads my messages he beats me": goflow's has_any_word puts it under Yes for the one word "si".
  const IF_HE_READS = 'Si él lee mis mensajes me pega';
  const PERSONAL_DATA = [UNCLEAR_SAFETY, IF_HE_READS, CHILD.name, 'Amina', CHILD.phone, '254712345678', CHILD.concern, CHILD.location, 'Grace Mugisha', '250788123123', 'Hi there', 'secret-password', WEBHOOK_TOKEN];
  let gw: Gateway;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    // Completed jobs are removed at once, so deduplication is shown to outlive the job.
    gw = await startGateway({ prefix: uniquePrefix('referral'), env: { COMPLETED_JOB_RETENTION_SECONDS: '0' } });
  });

  afterEach(() => nock.cleanAll());

  afterAll(async () => {
    await gw.close();
    nock.enableNetConnect();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it('creates one Primero case with the mapped fields and answers 202 with a readable reference', async () => {
    const { scope, created } = primeroAcceptsOnce();
    const body = referralBody();
    const res = await post(gw, body);

    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: 'accepted', reference: expect.stringMatching(/^[2-9A-HJ-NP-Z]{8}$/), duplicate: false });
    const reference = res.body.reference as string;

    const link = await eventually(() => gw.references.get(reference));
    expect(scope.isDone()).toBe(true);
    const data = created[0]!;
    expect(data).toEqual({
      // Derived from this acceptance (the ledger's), not from the run: a new acceptance is a new record.
      id: (await eventually(() => gw.references.get(reference))).caseId,
      module_id: 'primeromodule-cp',
      other_agency_id: reference,
      telephone_current: CHILD.phone,
      name_first: 'Amina',
      name_last: 'Wanjiru Otieno',
      age: 14,
      sex: 'female',
      protection_concerns: ['other'],
      protection_concerns_other: `${CHILD.concern} | Location as given: ${CHILD.location}`,
      consent_for_services: true,
      disclosure_other_orgs: true,
      safe_to_contact: true,
    });
    expect(link).toMatchObject({ caseId: data.id, caseIdDisplay: null, urn: `tel:${CHILD.phone}`, channel: 'rapidpro' });
  });

  it("accepts the editor's default body sent with no Content-Type", async () => {
    const { scope, created } = primeroAcceptsOnce();
    const res = await request(gw.app)
      .post(`/webhooks/rapidpro/referral?token=${WEBHOOK_TOKEN}`)
      .set('Content-Type', '')
      .send(Buffer.from(defaultEditorBody));
    expect(res.status).toBe(202);
    expect(res.body.duplicate).toBe(false);
    await eventually(() => scope.isDone());
    expect(created[0]!).toMatchObject({ telephone_current: '+250788123123', name_first: 'Grace', other_agency_id: res.body.reference });
  });

  it('accepts the legacy / resthook body and keys it on the run and last node', async () => {
    const { scope, created } = primeroAcceptsOnce();
    const res = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `token ${WEBHOOK_TOKEN}`).type('json').send(legacyBody);
    expect(res.status).toBe(202);
    await eventually(() => scope.isDone());
    expect(created[0]!.id).toBe((await eventually(() => gw.references.get(res.body.reference))).caseId);
    const again = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `token ${WEBHOOK_TOKEN}`).type('json').send(legacyBody);
    expect(again.body).toEqual({ status: 'accepted', reference: res.body.reference, duplicate: true });
    expect(created[0]!.telephone_current).toBe('+12024561111');
  });

  it('answers five concurrent deliveries of one message with one reference and creates one case', async () => {
    const { scope } = primeroAcceptsOnce();
    const body = referralBody();
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(gw, body)));

    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    const references = new Set(answers.map((a) => a.body.reference));
    expect(references.size).toBe(1);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);
    await eventually(() => gw.references.get([...references][0]!));
    expect(scope.isDone()).toBe(true);

    // Still a duplicate after the job itself has completed and been cleaned away.
    await eventually(async () => (await gw.queue.getJob(`m-${[...references][0]}`)) === undefined);
    const late = await post(gw, body);
    expect(late.body).toEqual({ status: 'accepted', reference: [...references][0], duplicate: true });
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('retries Primero 500s and creates the case once', async () => {
    const scope = nock(PRIMERO)
      .post('/api/v2/cases').reply(500, { errors: [{ status: 500, message: 'boom' }] })
      .post('/api/v2/cases').reply(502, 'Bad gateway')
      .post('/api/v2/cases').reply(204);
    const res = await post(gw, referralBody());
    const link = await eventually(() => gw.references.get(res.body.reference));
    expect(link.caseIdDisplay).toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it('treats a create that timed out and then answers 409 as done', async () => {
    const scope = nock(PRIMERO)
      .post('/api/v2/cases').delay(1000).reply(204)
      .post('/api/v2/cases').reply(409, { errors: [{ status: 409, message: 'Conflict: A record with this id already exists' }] });
    const res = await post(gw, referralBody());
    const link = await eventually(() => gw.references.get(res.body.reference));
    expect(link.caseIdDisplay).toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it("keeps a case Primero refuses with 422 as a dead letter with Primero's detail, without retrying", async () => {
    const scope = nock(PRIMERO)
      .post('/api/v2/cases')
      .reply(422, { errors: [{ status: 422, resource: '/api/v2/cases', detail: ['/sex', '/age'], message: ['Invalid Record JSON'] }] });
    const res = await post(gw, referralBody());
    const jobId = `m-${res.body.reference}`;
    const failed = await eventually(async () => ((await gw.queue.getJobState(jobId)) === 'failed' ? gw.queue.getJob(jobId) : undefined));
    expect(failed!.failedReason).toBe('Primero rejected the case create (422): /sex, /age: Invalid Record JSON');
    expect(failed!.attemptsMade).toBe(1);
    expect(scope.isDone()).toBe(true);
    expect(await gw.references.get(res.body.reference)).toBeNull();
    expect(gw.logs.text).toContain('message kept as a dead letter');
  });

  it('pauses intake on a 401 (a configuration fault), says so loudly, and resumes once Primero accepts', async () => {
    const scope = nock(PRIMERO)
      .post('/api/v2/cases').reply(401, { error: 'Invalid User name or password.' })
      .post('/api/v2/cases').reply(204);
    const res = await post(gw, referralBody());
    const link = await eventually(() => gw.references.get(res.body.reference));
    expect(link.caseIdDisplay).toBeNull();
    expect(scope.isDone()).toBe(true);
    expect(gw.logs.text).toContain('PRIMERO CONFIGURATION FAULT');
    expect((await gw.queue.getJob(`m-${res.body.reference}`))?.attemptsMade ?? 0).toBeLessThanOrEqual(1);
  });

  it('keeps values that fit no lookup as text instead of dropping them', async () => {
    const { scope, created } = primeroAcceptsOnce();
    const body = referralBody({ age: 'about twelve', consent: 'maybe' });
    await post(gw, body);
    await eventually(() => scope.isDone());
    const data = created[0]!;
    expect(data.age).toBeUndefined();
    expect(data.consent_for_services).toBe(false);
    expect(data.protection_concerns_other).toContain('Age as given: about twelve');
    expect(data.protection_concerns_other).toContain('Consent as given: maybe');
  });

  it('never marks a phone safe to message unless the person said yes', async () => {
    const stored = async (safe: string | null) => {
      const { scope, created } = primeroAcceptsOnce();
      await post(gw, referralBody({ safe }));
      await eventually(() => scope.isDone());
      return created[0]!;
    };
    expect((await stored('no')).safe_to_contact).toBe(false);
    const unclear = await stored(UNCLEAR_SAFETY);
    expect(unclear.safe_to_contact).toBe(false);
    // The caseworker reads the words, and decides after speaking to the person.
    expect(unclear.protection_concerns_other).toContain(`Safe to contact as given: ${UNCLEAR_SAFETY}`);
    expect(await stored(null)).not.toHaveProperty('safe_to_contact');
  });

  it('decides "safe" from the words, not the flow\'s category: a sentence the flow filed under Yes is stored not safe', async () => {
    const { scope, created } = primeroAcceptsOnce();
    await post(gw, referralBody({ safe: IF_HE_READS, safeCategory: 'Yes' }));
    await eventually(() => scope.isDone());
    expect(created[0]!.safe_to_contact).toBe(false);
    expect(created[0]!.protection_concerns_other).toContain(`Safe to contact as given: ${IF_HE_READS}`);
    const { scope: again, created: plain } = primeroAcceptsOnce();
    await post(gw, referralBody({ safe: '¡Sí!', safeCategory: 'Yes' }));
    await eventually(() => again.isDone());
    expect(plain[0]!.safe_to_contact).toBe(true);
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});

describe('referral to a configured recipient', () => {
  let gw: Gateway;
  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    const mappings = shippedMappings();
    const referral = mappings.get('referral')!;
    mappings.set('referral', { ...referral, referral: { transitioned_to: 'cp_caseworker', service: 'psychosocial_service', notes: 'From SMS intake' } });
    gw = await startGateway({ prefix: uniquePrefix('refer'), mappings });
  });
  afterEach(() => nock.cleanAll());
  afterAll(async () => {
    await gw.close();
    nock.enableNetConnect();
  });

  it('refers the case when consent is yes, without consent_overridden', async () => {
    const { scope } = primeroAcceptsOnce();
    const referrals: unknown[] = [];
    const refer = nock(PRIMERO)
      .get(/\/api\/v2\/cases\/[0-9a-f-]+\/referrals$/)
      .reply(200, { data: [] })
      .post(/\/api\/v2\/cases\/[0-9a-f-]+\/referrals$/, (b) => {
        referrals.push(b);
        return true;
      })
      .reply(200, { data: { id: 'r1', status: 'in_progress' } });
    const res = await post(gw, referralBody({ consent: 'yes' }));
    const link = await eventually(async () => (await gw.references.get(res.body.reference))?.steps.referredAt ? gw.references.get(res.body.reference) : undefined);
    expect(link!.steps.referredAt).toBeDefined();
    expect(scope.isDone() && refer.isDone()).toBe(true);
    expect(referrals).toEqual([{ data: { transitioned_to: 'cp_caseworker', service: 'psychosocial_service', notes: 'From SMS intake' } }]);
  });

  it('does not refer when the answer holds a no, even where the flow filed it under Yes ("No, y no quiero")', async () => {
    const { scope, created } = primeroAcceptsOnce();
    const refer = nock(PRIMERO).post(/referrals$/).reply(200, { data: { id: 'referral-1', status: 'in_progress' } });
    const res = await post(gw, referralBody({ consent: 'No, y no quiero', consentCategory: 'Yes' }));
    const link = await eventually(() => gw.references.get(res.body.reference));
    await untilGatewayDrained(gw);
    expect(scope.isDone()).toBe(true);
    expect(created[0]!.consent_for_services).toBe(false);
    expect(refer.isDone()).toBe(false);
    expect(link.steps.referredAt).toBeUndefined();
  });

  it('creates the case but does not refer it when consent is no', async () => {
    const { scope } = primeroAcceptsOnce();
    const refer = nock(PRIMERO).post(/referrals$/).reply(200, { data: { id: 'referral-1', status: 'in_progress' } });
    const res = await post(gw, referralBody({ consent: 'no' }));
    const link = await eventually(() => gw.references.get(res.body.reference));
    // A referral, had the worker wrongly sent one, is attempted before the intake job ends.
    await untilGatewayDrained(gw);
    expect(scope.isDone()).toBe(true);
    expect(refer.isDone()).toBe(false);
    expect(link.steps.referredAt).toBeUndefined();
  });
});
