import { randomBytes, randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { QUEUES } from '../../src/queues/names';
import { PayloadCodec, sealContext } from '../../src/security/payload-codec';
import { parseDataKey, Sealer } from '../../src/security/sealing';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { PRIMERO } from '../support/primero-fake';
import { eventually } from '../support/eventually';

const ADMIN = 'admin-token-forget-1';

/**
 * Issue #13 item 5. A RapidPro flow that passes no URN leaves the gateway only the contact UUID: forget
 * must find that person's links, jobs and feedback windows by it, report the jobs it cannot open instead of
 * passing over them in silence, and leave in the audit trail only a hash whose key is not in Redis.
 * Body shape: nyaruka/goflow `flows/actions/testdata/call_webhook.json` (contact without urn).
 */
describe('forget a person', () => {
  let gw: Gateway;
  let primeroUp = true;
  const admin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN}`).set('X-Operator', 'dpo');

  const feedback = (contactUuid: string, category: string, words: string) =>
    request(gw.app)
      .post('/webhooks/rapidpro/feedback')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({
        contact: { uuid: contactUuid },
        flow: { uuid: randomUUID() },
        run: { uuid: randomUUID() },
        results: { category: { value: category, category }, description: { value: words, category: 'All Responses' }, callback: { value: 'no', category: 'No' } },
      });

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    nock(PRIMERO)
      .persist()
      .post('/api/v2/cases')
      .reply(() => (primeroUp ? [204, ''] : [422, { errors: [{ status: 422, detail: 'other_id_no', message: ['is invalid'] }] }]))
      .get(/\/api\/v2\/cases\/[0-9a-f-]+$/)
      .reply(200, { data: { case_id_display: 'cp-forget' } });
    gw = await startGateway({ prefix: uniquePrefix('forget'), env: { ADMIN_TOKEN: ADMIN, DATA_KEY: randomBytes(32).toString('base64'), PRIMERO_POLL_INTERVAL_SECONDS: '0' } });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('reads a phone number as an operator types it (spaces, dashes), and says so when nothing was held under what was typed', async () => {
    // First in the file: a later test leaves a dead letter no key opens, which may be anyone's (then nothing is "not found").
    primeroUp = true;
    const urn = 'tel:+256700246801';
    const reference = (await referralWith(randomUUID(), urn)).body.reference as string;
    await eventually(async () => (await gw.queue.getJobState(`m-${reference}`)) === 'completed');
    const typed = await admin(request(gw.app).post('/admin/contacts/forget').send({ urn: 'tel:+256 700-246 801' }));
    expect(typed.status).toBe(200);
    expect(typed.body).toMatchObject({ references: [reference], nothingFound: false });
    expect(await keysOf(urn)).toEqual([]);
    const again = await admin(request(gw.app).post('/admin/contacts/forget').send({ urn: 'tel:+256 700 246 801' }));
    expect(again.body).toMatchObject({ references: [], jobsRemoved: 0, keysRemoved: 0, nothingFound: true });
  }, 20000);

  it('finds a RapidPro contact known only by its UUID, its jobs and feedback windows; reports what it cannot open', async () => {
    const contact = randomUUID();
    const first = (await feedback(contact, 'complaint', 'the clinic sends girls away')).body.reference as string;
    await eventually(() => gw.references.get(first));
    primeroUp = false;
    const second = (await feedback(contact, 'suggestion', 'open the clinic on saturdays')).body.reference as string;
    await eventually(async () => (await gw.queue.getJobState(`m-${second}`)) === 'failed');
    const windows = async () => (await gw.redis.keys(`${gw.config.QUEUE_PREFIX}:gw:feedback-window:*`)).length;
    expect(await windows()).toBe(2);

    // A dead letter sealed under a key this deployment no longer has: forget cannot tell whose it is.
    const lost = new PayloadCodec(new Sealer(parseDataKey(randomBytes(32).toString('base64'))));
    await gw.queue.add('inbound-message', lost.encode({ v: 1, reference: 'ZZZZ2222', urn: 'tel:+256700999888' }, ['urn'], sealContext.job('intake')), { jobId: 'm-ZZZZ2222' });

    const res = await admin(request(gw.app).post('/admin/contacts/forget').send({ contact_uuid: contact.toUpperCase() }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ references: [first, second].sort(), jobsRemoved: 2, jobsUndecodable: ['intake.m-ZZZZ2222'], jobsActiveSkipped: 0 });
    expect(await gw.references.get(first)).toBeNull();
    expect(await gw.queue.getJob(`m-${second}`)).toBeUndefined();
    expect(await windows()).toBe(0);
    expect(await gw.services.contacts.referencesOf(contact)).toEqual([]);

    const [entry] = await gw.services.audit.recent(1);
    expect(entry).toMatchObject({ action: 'contact.forget', actor: 'dpo', target: gw.services.hasher.hash(contact) });
    expect(JSON.stringify(entry)).not.toContain(contact);
    expect(gw.logs.text).not.toContain(contact);
    expect(await gw.redis.exists(`${gw.config.QUEUE_PREFIX}:gw:urn-hash-key`)).toBe(0);

    const bad = await admin(request(gw.app).post('/admin/contacts/forget').send({ contact_uuid: 'not-a-uuid' }));
    expect(bad.status).toBe(422);
    expect(bad.body.error.code).toBe('invalid_urn');
  }, 20000);

  /** A RapidPro referral that carries both identifiers (shape: nyaruka/goflow call_webhook testdata, contact with urn). */
  const referralWith = (contactUuid: string, urn: string) =>
    request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({
        contact: { uuid: contactUuid, urn },
        flow: { uuid: randomUUID() },
        run: { uuid: randomUUID() },
        results: { name: { value: 'Forget Child', category: 'All Responses' }, consent: { value: 'yes', category: 'Yes' } },
      });

  const keysOf = async (who: string) => {
    const hash = gw.services.hasher.hash(who);
    return (await gw.redis.keys(`${gw.config.QUEUE_PREFIX}:gw:*${hash}*`)).sort();
  };

  it('by contact UUID, also removes what is kept under the URN its links name (contact-refs, rate, feedback windows)', async () => {
    primeroUp = true;
    const contact = randomUUID();
    const urn = 'tel:+256700246810';
    const reference = (await referralWith(contact, urn)).body.reference as string;
    await eventually(() => gw.references.get(reference));
    await eventually(async () => (await gw.queue.getJobState(`m-${reference}`)) === 'completed');
    await gw.queue.clean(0, 1000, 'completed');
    // Left under the URN's hash by other messages of the same person (an SMS, a feedback window).
    await gw.services.contacts.recordInbound(urn, 60, true);
    await gw.redis.set(gw.services.contacts.feedbackWindowKey(urn, 'complaint'), 'ABCD2345', 'EX', 60);
    expect(await keysOf(urn)).toHaveLength(3);

    const res = await admin(request(gw.app).post('/admin/contacts/forget').send({ contact_uuid: contact }));
    expect(res.body.references).toEqual([reference]);
    expect(await keysOf(urn)).toEqual([]);
    expect(await keysOf(contact)).toEqual([]);
  }, 20000);

  it('removes the sealed numbers kept beside a WhatsApp sender\'s linked ids, while the links (hashes) stay', async () => {
    const urn = 'whatsapp:256700999001';
    const other = 'whatsapp:user.forget-me';
    await gw.services.contacts.link(urn, [other]);
    const sealedUrns = `${gw.config.QUEUE_PREFIX}:gw:urn-link-urns`;
    const hashes = [gw.services.hasher.hash(urn), gw.services.hasher.hash(other)];
    expect(await gw.redis.hmget(sealedUrns, ...hashes)).not.toContain(null);
    expect((await admin(request(gw.app).post('/admin/contacts/forget').send({ urn }))).status).toBe(200);
    expect(await gw.redis.hmget(sealedUrns, ...hashes)).toEqual([null, null]);
    expect(await gw.services.contacts.identityHashes(urn)).toContain(hashes[1]);
  });

  it('by URN, also removes the contact-refs of the contact UUID its links name, with no job left', async () => {
    primeroUp = true;
    const contact = randomUUID();
    const urn = 'tel:+256700135790';
    const reference = (await referralWith(contact, urn)).body.reference as string;
    await eventually(async () => (await gw.queue.getJobState(`m-${reference}`)) === 'completed');
    await gw.queue.clean(0, 1000, 'completed');
    expect(await keysOf(contact)).toHaveLength(1);

    const res = await admin(request(gw.app).post('/admin/contacts/forget').send({ urn }));
    expect(res.body.references).toEqual([reference]);
    expect(await keysOf(contact)).toEqual([]);
    expect(await keysOf(urn)).toEqual([]);
  }, 20000);

  it('by contact UUID, also removes a RapidPro notification dead letter that names only the URN and the reference', async () => {
    primeroUp = false;
    const contact = randomUUID();
    const reference = (await feedback(contact, 'complaint', 'the teacher hits us')).body.reference as string;
    await eventually(async () => (await gw.queue.getJobState(`m-${reference}`)) === 'failed');
    // A flow start that could not be sent (the rapidpro-notify entry of JOBS in src/queues/jobs.ts): its URN is sealed.
    const notify = gw.services.registry.get(QUEUES.rapidproNotify);
    const job = await notify.add('flow-start', gw.services.codec.encode({ urn: 'tel:+256700864202', reference, status: 'received' }, ['urn'], sealContext.job(notify.name)), {
      jobId: `flow:${reference}:received`,
      delay: 3_600_000,
    });

    const res = await admin(request(gw.app).post('/admin/contacts/forget').send({ contact_uuid: contact }));
    expect(res.body).toMatchObject({ references: [reference], jobsRemoved: 2 });
    expect(await notify.getJob(job.id!)).toBeUndefined();
    expect(await gw.queue.getJob(`m-${reference}`)).toBeUndefined();
  }, 20000);

  it('by URN, also removes a queued message that names only the contact UUID a link revealed', async () => {
    primeroUp = true;
    const contact = randomUUID();
    const urn = 'tel:+256700975311';
    const referred = (await referralWith(contact, urn)).body.reference as string;
    await eventually(async () => (await gw.queue.getJobState(`m-${referred}`)) === 'completed');
    await gw.queue.clean(0, 1000, 'completed');
    primeroUp = false;
    const later = (await feedback(contact, 'complaint', 'the shelter is full')).body.reference as string;
    await eventually(async () => (await gw.queue.getJobState(`m-${later}`)) === 'failed');

    const res = await admin(request(gw.app).post('/admin/contacts/forget').send({ urn }));
    expect(res.body).toMatchObject({ references: [referred, later].sort(), jobsRemoved: 1 });
    expect(await gw.queue.getJob(`m-${later}`)).toBeUndefined();
  }, 20000);

  it('removes a dead letter that names the person among other senders, without forgetting the others', async () => {
    const [them, other] = ['whatsapp:256700111333', 'whatsapp:256700111444'];
    await gw.services.contacts.recordInbound(other, 60, true);
    // A WhatsApp item kept whole (shape of src/queues/whatsapp-unreadable.ts): sealed sender, senders by hash.
    const kept = gw.services.registry.get(QUEUES.whatsappUnreadable);
    const senders = [other, them].map((u) => gw.services.hasher.hash(u));
    await kept.add('unreadable', gw.services.codec.encode({ wamid: null, reason: 'test', waId: other.slice(9), text: '{}', senders }, ['wamid', 'waId', 'text'], sealContext.job(kept.name)), { delay: 3_600_000 });

    const res = await admin(request(gw.app).post('/admin/contacts/forget').send({ urn: them }));
    expect(res.body.jobsRemoved).toBe(1);
    expect(await keysOf(other)).toEqual([expect.stringContaining(':gw:rate:')]);
  }, 20000);

  it('a contact UUID sent in upper case is kept lowercase, so forget finds its feedback window', async () => {
    primeroUp = false;
    const contact = randomUUID();
    await feedback(contact.toUpperCase(), 'complaint', 'nobody answers the hotline');
    expect(await keysOf(contact)).toEqual([expect.stringContaining(':gw:feedback-window:')]);
    await admin(request(gw.app).post('/admin/contacts/forget').send({ contact_uuid: contact.toUpperCase() }));
    expect(await keysOf(contact)).toEqual([]);
    expect(await keysOf(contact.toUpperCase())).toEqual([]);
  }, 20000);
});
