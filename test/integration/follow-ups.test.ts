import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import webpush from 'web-push';
import { twilioSignature } from '../../src/channels/twilio/signature';
import { replyText } from '../../src/domain/keywords';
import { referenceFromSequence } from '../../src/domain/reference';
import { reporterMessageEntryId } from '../../src/cases/reporter-message';
import { AcceptanceLedger } from '../../src/store/acceptances';
import { gatewayKey } from '../../src/store/keys';
import { FakePushService } from '../../demo/sandbox/push-service';
import { PrivateRedis } from '../../demo/sandbox/redis-server';
import { shippedKeywords, startGateway, uniquePrefix, untilGatewayDrained, WEBHOOK_TOKEN, webPushEnv, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PRIMERO, RecordingPrimero } from '../support/primero-fake';

const PUBLIC_URL = 'https://gateway.example.org';
const TWILIO_TOKEN = 'twilio-auth-token-0016';
const ADMIN = 'admin-token-follow-ups-1';
const WEBHOOK_KEY = 'primero-webhook-key-16';
const WORDS = {
  first: 'my stepfather hits me every night',
  again: 'he did it again yesterday',
  later: 'now he took my phone away',
  other: 'my sister is also scared',
};
const keywords = shippedKeywords();
const followUpAck = (reference: string) => replyText(keywords, 'eng', 'follow_up', reference);

let sid = 0;
const messageOf = (xml: string) => /<Message>([\s\S]*)<\/Message>/.exec(xml)?.[1] ?? null;
const referenceIn = (reply: string | null) => /\b([2-9A-HJ-NP-Z]{8})\b/.exec(reply ?? '')![1]!;

describe('follow-ups: a message from someone with an open case joins that case', () => {
  const PERSONAL_DATA = [...Object.values(WORDS), '254711600', 'Amani Njeri'];
  const vapid = webpush.generateVAPIDKeys();
  let gw: Gateway;
  let primero: RecordingPrimero;
  let push: FakePushService;
  let phones = 0;
  const nextPhone = () => `+254711600${String(100 + phones++)}`;

  function sms(from: string, body: string, messageSid = `SM${String(++sid).padStart(32, '0')}`) {
    const params = new URLSearchParams({ MessageSid: messageSid, AccountSid: 'AC1', From: from, To: '+254700000016', Body: body, NumMedia: '0' });
    const signature = twilioSignature(TWILIO_TOKEN, `${PUBLIC_URL}/webhooks/twilio/sms`, params);
    return request(gw.app).post('/webhooks/twilio/sms').set('X-Twilio-Signature', signature).type('form').send(params.toString());
  }

  /** A HELP by SMS: a referral with its own record. */
  async function referral(from: string, words = WORDS.first): Promise<{ reference: string; caseId: string }> {
    const reference = referenceIn(messageOf((await sms(from, `HELP ${words}`)).text));
    const link = await eventually(() => gw.references.get(reference));
    await eventually(async () => (await gw.references.get(reference))?.steps.notifiedAt);
    return { reference, caseId: link.caseId };
  }

  const notesOf = (caseId: string) => (primero.records.get(caseId)?.notes_section ?? []) as Array<Record<string, string>>;
  const pushesTo = (device: string, caseId: string) => push.deliveries.filter((d) => d.device === device && d.plaintext.includes(caseId)).map((d) => JSON.parse(d.plaintext) as { title: string; body: string });

  async function enroll(user: string, device: string): Promise<void> {
    const { body } = await request(gw.app).post('/admin/enrollments').set('Authorization', `Bearer ${ADMIN}`).send({ user_name: user });
    expect((await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription: push.subscribe(device), language: 'eng' })).status).toBe(201);
  }

  /** A caseworker changes the case in Primero, and Primero's webhook tells the gateway. */
  async function primeroChanges(caseId: string, fields: Record<string, unknown>): Promise<void> {
    const at = primero.change(caseId, fields);
    const r = primero.records.get(caseId)!;
    const data = { id: caseId, record_id: caseId, record_type: 'case', last_updated_at: at, owned_by: r.owned_by, assigned_user_names: r.assigned_user_names ?? [], status: r.status, workflow: r.workflow };
    expect((await request(gw.app).post('/webhooks/primero').set('x-api-key', WEBHOOK_KEY).type('json').send(JSON.stringify({ data }))).status).toBe(202);
    await untilGatewayDrained(gw);
  }

  beforeAll(async () => {
    push = await FakePushService.start(vapid.publicKey);
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({
      prefix: uniquePrefix('follow-ups'),
      env: {
        ADMIN_TOKEN: ADMIN,
        PUBLIC_URL,
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        PRIMERO_WEBHOOK_API_KEY: WEBHOOK_KEY,
        PRIMERO_POLL_INTERVAL_SECONDS: '0',
        SENDER_RATE_LIMIT: '100',
        ...webPushEnv(vapid),
        PUSH_TRIAGE_USERS: 'triage1',
        PUSH_SENSITIVE_USERS: 'psea_fp',
        SENSITIVE_MODULE_ID: 'primeromodule-gbv',
        SENSITIVE_FOCAL_POINT: 'psea_fp',
        PUSH_ENDPOINT_HOSTS: new URL(push.origin).host,
      },
    });
    await enroll('triage1', 'triage-phone');
    await enroll('cp_worker', 'worker-phone');
    await enroll('psea_fp', 'psea-phone');
  });

  afterAll(async () => {
    await gw.close();
    await push.stop();
    nock.cleanAll();
    nock.enableNetConnect();
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it("adds a plain SMS to the sender's case as a note, creates no case, alerts triage and says it was added", async () => {
    const from = nextPhone();
    const { reference, caseId } = await referral(from);
    const cases = primero.created.length;
    const res = await sms(from, WORDS.again);
    expect(messageOf(res.text)).toBe(followUpAck(reference));
    const [note] = await eventually(() => (notesOf(caseId).length ? notesOf(caseId) : null));
    expect(note).toMatchObject({ note_subject: 'Message from reporter (SMS)', note_text: WORDS.again });
    expect(note!.unique_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(note!.note_date!)).not.toBeNaN();
    const alert = await eventually(() => pushesTo('triage-phone', caseId).find((p) => p.title === 'New message on a case'));
    expect(alert.body).toBe(`New message on case ${primero.records.get(caseId)!.case_id_display}`);
    await untilGatewayDrained(gw);
    expect(primero.created.length).toBe(cases);
    expect(primero.sent('patch').filter((p) => p.id === caseId)).toHaveLength(1);
    expectNoPersonalData(JSON.stringify(push.deliveries.map((d) => d.plaintext)), PERSONAL_DATA);
  });

  it('alerts the assigned caseworker, not triage, once a caseworker has the case', async () => {
    const from = nextPhone();
    const { caseId } = await referral(from);
    await primeroChanges(caseId, { assigned_user_names: ['cp_worker'] });
    const triageBefore = pushesTo('triage-phone', caseId).length;
    await sms(from, WORDS.again);
    await eventually(() => pushesTo('worker-phone', caseId).find((p) => p.title === 'New message on a case'));
    await untilGatewayDrained(gw);
    expect(pushesTo('triage-phone', caseId)).toHaveLength(triageBefore);
  });

  it('answers a second delivery of the same message with the same reference and adds one note', async () => {
    const from = nextPhone();
    const { reference, caseId } = await referral(from);
    const messageSid = `SM${'7'.repeat(32)}`;
    const first = await sms(from, WORDS.again, messageSid);
    const again = await sms(from, WORDS.again, messageSid);
    expect(messageOf(again.text)).toBe(messageOf(first.text));
    expect(messageOf(first.text)).toBe(followUpAck(reference));
    await eventually(() => notesOf(caseId).length || null);
    await untilGatewayDrained(gw);
    expect(notesOf(caseId)).toHaveLength(1);
    expect(pushesTo('triage-phone', caseId).filter((p) => p.title === 'New message on a case')).toHaveLength(1);
  });

  it("joins the newest open case, or the sender's own case its reference names, and ignores anyone else's", async () => {
    const from = nextPhone();
    const older = await referral(from);
    const newer = await referral(from, WORDS.other);
    expect(messageOf((await sms(from, WORDS.again)).text)).toBe(followUpAck(newer.reference));
    expect(messageOf((await sms(from, `REF ${older.reference} ${WORDS.later}`)).text)).toBe(followUpAck(older.reference));
    const stranger = await referral(nextPhone());
    expect(messageOf((await sms(from, `REF ${stranger.reference} ${WORDS.later}`)).text)).toBe(followUpAck(newer.reference));
    await untilGatewayDrained(gw);
    expect(notesOf(newer.caseId)).toHaveLength(2);
    expect(notesOf(older.caseId).map((n) => n.note_text)).toEqual([`REF ${older.reference} ${WORDS.later}`]);
    expect(notesOf(stranger.caseId)).toEqual([]);
  });

  it('opens a new referral for a sender with no case, even when they name a reference that is not theirs', async () => {
    const stranger = await referral(nextPhone());
    const reply = messageOf((await sms(nextPhone(), `REF ${stranger.reference} ${WORDS.later}`)).text);
    expect(reply).not.toContain(stranger.reference);
    expect(reply).toContain('Send HELP to ask for help');
    const link = await eventually(() => gw.references.get(referenceIn(reply)));
    expect(link.caseId).not.toBe(stranger.caseId);
  });

  it('opens a new referral once the case is closed, or older than FOLLOW_UP_WINDOW_DAYS', async () => {
    const from = nextPhone();
    const closed = await referral(from);
    await primeroChanges(closed.caseId, { status: 'closed', workflow: 'closed' });
    const afterClose = messageOf((await sms(from, WORDS.again)).text);
    expect(afterClose).toContain('Send HELP to ask for help');
    const fresh = referenceIn(afterClose);
    expect(fresh).not.toBe(closed.reference);
    await eventually(() => gw.references.get(fresh));
    // The window passing: the record was created 31 days ago (the default window is 30).
    await gw.redis.hset(gatewayKey(gw.config.QUEUE_PREFIX, 'ref', fresh), 'createdAt', new Date(Date.now() - 31 * 86_400_000).toISOString());
    expect(referenceIn(messageOf((await sms(from, WORDS.later)).text))).not.toBe(fresh);
  });

  it('opens a new referral, not a join to another open case, when the message names the sender\'s own closed case', async () => {
    const from = nextPhone();
    const closed = await referral(from);
    const open = await referral(from, WORDS.other);
    await primeroChanges(closed.caseId, { status: 'closed', workflow: 'closed' });
    const reply = messageOf((await sms(from, `my reference number is ${closed.reference}, ${WORDS.later}`)).text);
    const fresh = referenceIn(reply);
    expect(reply).toBe(replyText(keywords, 'eng', 'unknown', fresh));
    expect([closed.reference, open.reference]).not.toContain(fresh);
    await eventually(() => gw.references.get(fresh));
    await untilGatewayDrained(gw);
    expect(notesOf(open.caseId)).toEqual([]);
  });

  it('files the message as a case of its own when the case left the API user\'s scope', async () => {
    const from = nextPhone();
    const { reference, caseId } = await referral(from);
    primero.forbidden.add(caseId);
    const cases = primero.created.length;
    expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
    const own = await eventually(() => primero.created.slice(cases).find((c) => String(c.protection_concerns_other).includes(WORDS.later)));
    expect(own.other_agency_id).not.toBe(reference);
    primero.forbidden.delete(caseId);
  });

  it('files the message as a case of its own, once, when the refused note is followed by a failed filing: the retry knows the note was never written', async () => {
    const from = nextPhone();
    const { reference, caseId } = await referral(from);
    primero.forbidden.add(caseId);
    primero.failCreates = 1;
    const [cases, failed] = [primero.created.length, await gw.queue.getFailedCount()];
    expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
    await eventually(() => primero.created.slice(cases).find((c) => String(c.protection_concerns_other).includes(WORDS.later)));
    await untilGatewayDrained(gw);
    primero.forbidden.delete(caseId);
    expect(primero.failCreates).toBe(0);
    expect(primero.created.slice(cases).filter((c) => String(c.protection_concerns_other).includes(WORDS.later))).toHaveLength(1);
    expect(await gw.queue.getFailedCount()).toBe(failed);
  });

  it('files the message as a case of its own when its note never reached Primero (connection refused) and the case then left the scope', async () => {
    const from = nextPhone();
    const { reference, caseId } = await referral(from);
    // Reassigned while Primero could not be reached: the first PATCH never connects, the retry's answers 403.
    primero.patchConnectionsRefused = 1;
    primero.forbidden.add(caseId);
    const [cases, failed] = [primero.created.length, await gw.queue.getFailedCount()];
    expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
    await eventually(() => primero.created.slice(cases).find((c) => String(c.protection_concerns_other).includes(WORDS.later)));
    await untilGatewayDrained(gw);
    primero.forbidden.delete(caseId);
    expect(primero.patchConnectionsRefused).toBe(0);
    expect(await gw.queue.getFailedCount()).toBe(failed);
  });

  it('files the message as a case of its own when the case was deleted in Primero (404), instead of failing for ever', async () => {
    const from = nextPhone();
    const { reference, caseId } = await referral(from);
    primero.deleted.add(caseId);
    const [cases, failed] = [primero.created.length, await gw.queue.getFailedCount()];
    expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
    const own = await eventually(() => primero.created.slice(cases).find((c) => String(c.protection_concerns_other).includes(WORDS.later)));
    expect(own.other_agency_id).not.toBe(reference);
    await untilGatewayDrained(gw);
    expect(await gw.queue.getFailedCount()).toBe(failed);
    primero.deleted.delete(caseId);
  });

  it("joins the older case a follow-up names, though the sender has more than 20 newer ones (a volunteer's phone)", async () => {
    const phone = nextPhone();
    const res = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json')
      .send({ contact: { uuid: randomUUID(), urn: `tel:${phone}` }, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results: { concern: { value: WORDS.first, category: 'All Responses' } } });
    const link = await eventually(async () => {
      const l = await gw.references.get(res.body.reference);
      return l?.steps.notifiedAt ? l : null;
    });
    for (let i = 0; i < 25; i++) {
      const reference = referenceFromSequence(60_000_000 + i);
      expect(await gw.references.saveLink({ ...link, reference, caseId: `newer-${i}-${link.caseId}`, createdAt: new Date().toISOString(), steps: {} })).toBeNull();
      await gw.services.contacts.indexReference([`tel:${phone}`], reference, 1);
    }
    await sms(phone, `REF ${link.reference} ${WORDS.later}`);
    await eventually(() => (notesOf(link.caseId).length ? true : null));
    await untilGatewayDrained(gw);
  });

  it('joins the case of someone who said messages to this phone are not safe, and sends that phone no acknowledgement', async () => {
    const phone = nextPhone();
    const contact = { uuid: randomUUID(), urn: `tel:${phone}` };
    const res = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json')
      .send({ contact, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results: { concern: { value: WORDS.first, category: 'All Responses' }, safe_to_contact: { value: 'no', category: 'No' } } });
    const link = await eventually(async () => {
      const l = await gw.references.get(res.body.reference);
      return l?.steps.notifiedAt ? l : null;
    });
    expect(link.safeToContact).toBe(false);
    const cases = primero.created.length;
    expect(messageOf((await sms(phone, WORDS.later)).text)).toBeNull();
    await eventually(() => (notesOf(link.caseId).length ? true : null));
    expect(notesOf(link.caseId).map((n) => n.note_text)).toEqual([WORDS.later]);
    expect(primero.created.length).toBe(cases);
  });

  describe('a follow-up to a sensitive report', () => {
    /** A sexual exploitation report through the feedback flow: sensitive, assigned to the focal point. */
    async function sensitiveReport(phone: string): Promise<{ reference: string; caseId: string }> {
      const res = await request(gw.app).post('/webhooks/rapidpro/feedback').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send({
        contact: { uuid: randomUUID(), urn: `tel:${phone}`, language: 'eng' },
        flow: { uuid: randomUUID() },
        run: { uuid: randomUUID() },
        results: { category: { value: '4', category: 'sea' }, description: { value: WORDS.first, category: 'All Responses' }, callback: { value: 'no', category: 'No' } },
      });
      const link = await eventually(() => gw.references.get(res.body.reference));
      expect(link.sensitive).toBe(true);
      await eventually(async () => (await gw.references.get(res.body.reference))?.steps.notifiedAt);
      return { reference: res.body.reference, caseId: link.caseId };
    }

    it('never sends its reference to an unnamed message: a sensitive report of its own, acknowledged as an ordinary one', async () => {
      const phone = nextPhone();
      const { reference, caseId } = await sensitiveReport(phone);
      const cases = primero.created.length;
      const reply = messageOf((await sms(phone, WORDS.again)).text);
      expect(reply).not.toContain(reference);
      const fresh = referenceIn(reply);
      expect(reply).toBe(replyText(keywords, 'eng', 'unknown', fresh));
      const own = await eventually(() => primero.created.slice(cases).find((c) => String(c.protection_concerns_other).includes(WORDS.again)));
      await eventually(() => pushesTo('psea-phone', String(own.id)).length || null);
      await untilGatewayDrained(gw);
      expect([own.other_agency_id, own.module_id]).toEqual([fresh, 'primeromodule-gbv']);
      expect(primero.sent('flag').map((f) => f.id)).toContain(own.id);
      expect(pushesTo('triage-phone', String(own.id))).toEqual([]);
      expect(notesOf(caseId)).toEqual([]);
      expect(pushesTo('psea-phone', caseId).filter((p) => p.title === 'New message on a case')).toEqual([]);
      // Neither record is named to whoever asks from the phone either.
      expect(messageOf((await sms(phone, 'STATUS')).text)).toBe(replyText(keywords, 'eng', 'status_none', null));
    });

    it('joins the sensitive record when the message names it, with the ordinary follow-up answer, alerting only the sensitive users', async () => {
      const phone = nextPhone();
      const { reference, caseId } = await sensitiveReport(phone);
      const typed = `${reference.slice(0, 4).toLowerCase()} ${reference.slice(4).toLowerCase()}`;
      expect(messageOf((await sms(phone, `ref ${typed} ${WORDS.again}`)).text)).toBe(followUpAck(reference));
      await eventually(() => pushesTo('psea-phone', caseId).find((p) => p.title === 'New message on a case'));
      await untilGatewayDrained(gw);
      expect(notesOf(caseId).map((n) => n.note_text)).toEqual([`ref ${typed} ${WORDS.again}`]);
      expect(pushesTo('triage-phone', caseId)).toEqual([]);
      expect(pushesTo('worker-phone', caseId)).toEqual([]);
    });

    it('never passes a newer sensitive record over for an older ordinary one: the words become a sensitive report of their own', async () => {
      const phone = nextPhone();
      const ordinary = await referral(phone);
      const sensitive = await sensitiveReport(phone);
      const cases = primero.created.length;
      const reply = messageOf((await sms(phone, WORDS.later)).text);
      expect(reply).not.toContain(ordinary.reference);
      expect(reply).not.toContain(sensitive.reference);
      const own = await eventually(() => primero.created.slice(cases).find((c) => String(c.protection_concerns_other).includes(WORDS.later)));
      await untilGatewayDrained(gw);
      expect(own.module_id).toBe('primeromodule-gbv');
      expect(notesOf(ordinary.caseId)).toEqual([]);
      expect(notesOf(sensitive.caseId)).toEqual([]);
      expect(pushesTo('triage-phone', String(own.id))).toEqual([]);
    });

    it('becomes a sensitive report of its own, never a triage referral, when the record is out of reach', async () => {
      const phone = nextPhone();
      const { reference, caseId } = await sensitiveReport(phone);
      primero.forbidden.add(caseId);
      const cases = primero.created.length;
      expect(messageOf((await sms(phone, `REF ${reference} ${WORDS.later}`)).text)).toBe(followUpAck(reference));
      const own = await eventually(() => primero.created.slice(cases).find((c) => String(c.protection_concerns_other).includes(WORDS.later)));
      await eventually(() => pushesTo('psea-phone', String(own.id)).length || null);
      await untilGatewayDrained(gw);
      expect(own.module_id).toBe('primeromodule-gbv');
      expect(primero.sent('flag').map((f) => f.id)).toContain(own.id);
      expect(pushesTo('triage-phone', String(own.id))).toEqual([]);
      primero.forbidden.delete(caseId);
    });
  });

  describe("the acceptance ledger's join", () => {
    const ledger = () => new AcceptanceLedger(gw.redis, gw.config.QUEUE_PREFIX, 3600);

    it('claims a follow-up into its target with its own reference, and a repeat says the same', async () => {
      const key = `join-test-${randomUUID()}`;
      const first = await ledger().claim(key, 'JNTS2345', randomUUID(), 60_000, undefined, undefined, 'TRGT2345');
      expect([first.fresh, first.acceptance]).toEqual([true, expect.objectContaining({ reference: 'TRGT2345', jobId: 'm-TRGT2345-JNTS2345', mergeInto: 'TRGT2345', own: 'JNTS2345', followUp: true })]);
      const repeat = await ledger().claim(key, 'JNTS3456', randomUUID(), 60_000);
      expect([repeat.fresh, repeat.acceptance.reference, repeat.acceptance.followUp, repeat.acceptance.jobId]).toEqual([false, 'TRGT2345', true, 'm-TRGT2345-JNTS2345']);
    });

    it('leaves callers without a join as they were: their own reference, no follow-up', async () => {
      const { acceptance } = await ledger().claim(`join-test-${randomUUID()}`, 'JNTS4567', randomUUID(), 60_000);
      expect(acceptance).toMatchObject({ reference: 'JNTS4567', jobId: 'm-JNTS4567', mergeInto: null, followUp: false });
    });

    it('puts a follow-up back under its target when the API died between its claim and its job', async () => {
      const from = nextPhone();
      const { reference, caseId } = await referral(from);
      const messageSid = `SM${'9'.repeat(32)}`;
      // What a process killed right after the claim leaves behind: a ledger entry naming the join, no job.
      await ledger().claim(gw.services.hasher.deduplicationId(`twilio:${messageSid}`), 'DEAD2345', randomUUID(), 60_000, undefined, undefined, reference);
      expect(messageOf((await sms(from, WORDS.later, messageSid)).text)).toBe(followUpAck(reference));
      const [note] = await eventually(() => (notesOf(caseId).length ? notesOf(caseId) : null));
      expect(note).toMatchObject({ unique_id: reporterMessageEntryId('DEAD2345'), note_text: WORDS.later });
    });

    it('files a follow-up whose target is gone (expired or forgotten) as a case of its own, under its own reference', async () => {
      const from = nextPhone();
      const messageSid = `SM${'8'.repeat(32)}`;
      await ledger().claim(gw.services.hasher.deduplicationId(`twilio:${messageSid}`), 'LONE2345', randomUUID(), 60_000, undefined, undefined, 'GONE2345');
      await sms(from, WORDS.later, messageSid);
      const own = await eventually(() => primero.created.find((c) => c.other_agency_id === 'LONE2345'));
      expect(own.protection_concerns_other).toContain(WORDS.later);
    });
  });

  describe('a retry of a follow-up whose note is already in the record', () => {
    /** A follow-up that completed, and its job run again (as a retry after a crash between the note and the alerts would). */
    async function noted(from: string): Promise<{ reference: string; caseId: string; rerun: () => Promise<void> }> {
      const { reference, caseId } = await referral(from);
      expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
      await eventually(() => (notesOf(caseId).length ? true : null));
      await untilGatewayDrained(gw);
      const job = (await gw.queue.getCompleted()).find((j) => j.id?.startsWith(`m-${reference}-`))!;
      return { reference, caseId, rerun: async () => {
        await job.retry('completed');
        await eventually(async () => ((await gw.queue.getJobState(job.id!)) === 'completed' ? true : null));
        await untilGatewayDrained(gw);
      } };
    }
    const filedAgain = (from: number) => primero.created.slice(from).filter((c) => String(c.protection_concerns_other).includes(WORDS.later));

    it('never files the words again as a case when the link is gone by then', async () => {
      const { reference, rerun } = await noted(nextPhone());
      const cases = primero.created.length;
      await gw.references.remove(reference);
      await rerun();
      expect(filedAgain(cases)).toEqual([]);
    });

    it('never files the words again as a case when the record answers 403 by then', async () => {
      const { caseId, rerun } = await noted(nextPhone());
      const cases = primero.created.length;
      primero.forbidden.add(caseId);
      await rerun();
      primero.forbidden.delete(caseId);
      expect(filedAgain(cases)).toEqual([]);
      expect(notesOf(caseId)).toHaveLength(1);
    });
  });

  describe('a worker that died after Primero took the note and before the ledger said so', () => {
    /** A follow-up whose note is in the record, its ledger entry without `noted` (the crash), and its job run again. */
    async function crashedAfterNote(from: string) {
      const { reference, caseId } = await referral(from);
      expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
      await eventually(() => (notesOf(caseId).length ? true : null));
      await untilGatewayDrained(gw);
      const job = (await gw.queue.getCompleted()).find((j) => j.id?.startsWith(`m-${reference}-`))!;
      await gw.redis.hdel(gatewayKey(gw.config.QUEUE_PREFIX, 'accepted', job.data.idempotencyKey as string), 'noted');
      await gw.redis.hdel(`${job.queueQualifiedName}:${job.id}`, 'gw:noted');
      const [cases, patches] = [primero.created.length, primero.patches.length];
      const rerun = async (): Promise<string> => {
        await job.retry('completed');
        const state = await eventually(async () => {
          const s = await gw.queue.getJobState(job.id!);
          return s === 'completed' || s === 'failed' ? s : null;
        });
        await untilGatewayDrained(gw);
        return state;
      };
      return { reference, caseId, job, rerun, filedAgain: () => filedAgain(cases), patchedAgain: () => primero.patches.length - patches };
    }
    const filedAgain = (from: number) => primero.created.slice(from).filter((c) => String(c.protection_concerns_other).includes(WORDS.later));

    it('finds the note in the record and writes it no second time', async () => {
      const { caseId, rerun, filedAgain, patchedAgain } = await crashedAfterNote(nextPhone());
      expect(await rerun()).toBe('completed');
      expect(patchedAgain()).toBe(0);
      expect(notesOf(caseId)).toHaveLength(1);
      expect(filedAgain()).toEqual([]);
    });

    it('keeps the message as a dead letter, never a second case, when the record then answers 403; replayed in scope, it finds its note', async () => {
      const { caseId, job, rerun, filedAgain } = await crashedAfterNote(nextPhone());
      primero.forbidden.add(caseId);
      expect(await rerun()).toBe('failed');
      primero.forbidden.delete(caseId);
      expect(filedAgain()).toEqual([]);
      const letter = await request(gw.app).get(`/admin/dead-letters/${gw.queue.name}.${job.id}`).set('Authorization', `Bearer ${ADMIN}`);
      expect(letter.body.error).toMatch(/^note_unconfirmed: /);
      expect((await request(gw.app).post(`/admin/dead-letters/${gw.queue.name}.${job.id}/replay`).set('Authorization', `Bearer ${ADMIN}`)).status).toBe(202);
      await eventually(async () => ((await gw.queue.getJobState(job.id!)) === 'completed' ? true : null));
      await untilGatewayDrained(gw);
      expect(notesOf(caseId)).toHaveLength(1);
      expect(filedAgain()).toEqual([]);
    });

    it('finds the note in the record the ledger names when the link is gone by then (forgotten), and files no second case', async () => {
      const { reference, caseId, rerun, filedAgain } = await crashedAfterNote(nextPhone());
      await gw.references.remove(reference);
      expect(await rerun()).toBe('completed');
      expect(notesOf(caseId)).toHaveLength(1);
      expect(filedAgain()).toEqual([]);
    });

    it('files the words alone when the link is gone and the record the ledger names does not hold the note', async () => {
      const { reference, caseId, rerun, filedAgain } = await crashedAfterNote(nextPhone());
      await gw.references.remove(reference);
      primero.records.set(caseId, { ...primero.records.get(caseId)!, notes_section: [] });
      expect(await rerun()).toBe('completed');
      expect(filedAgain()).toHaveLength(1);
    });

    it('keeps the message as a dead letter, never a second case, when the link is gone and the record the ledger names answers 403', async () => {
      const { reference, caseId, job, rerun, filedAgain } = await crashedAfterNote(nextPhone());
      await gw.references.remove(reference);
      primero.forbidden.add(caseId);
      expect(await rerun()).toBe('failed');
      primero.forbidden.delete(caseId);
      expect(filedAgain()).toEqual([]);
      const letter = await request(gw.app).get(`/admin/dead-letters/${gw.queue.name}.${job.id}`).set('Authorization', `Bearer ${ADMIN}`);
      expect(letter.body.error).toMatch(/^note_unconfirmed: /);
    });

    it("reads another acceptance's marks as nothing known: its note in a record now 403 stays a dead letter, never a second case", async () => {
      const { caseId, job, rerun, filedAgain } = await crashedAfterNote(nextPhone());
      // A resend after the window re-claimed the idempotency key: the entry is the later acceptance's, with no marks yet.
      const entry = gatewayKey(gw.config.QUEUE_PREFIX, 'accepted', job.data.idempotencyKey as string);
      await gw.redis.hset(entry, 'acceptance', randomUUID());
      await gw.redis.hdel(entry, 'noteSent');
      primero.forbidden.add(caseId);
      expect(await rerun()).toBe('failed');
      primero.forbidden.delete(caseId);
      expect(filedAgain()).toEqual([]);
      expect(await gw.redis.hget(entry, 'noteSent')).toBeNull();
    });

    it('keeps the message as a dead letter, never a second case, when the record then answers 404; it answers again, the replay finds its note', async () => {
      const { caseId, job, rerun, filedAgain } = await crashedAfterNote(nextPhone());
      // Primero's API never deletes a record (DELETE disables it): a 404 here cannot say the note went with it.
      primero.deleted.add(caseId);
      expect(await rerun()).toBe('failed');
      primero.deleted.delete(caseId);
      expect(filedAgain()).toEqual([]);
      const letter = await request(gw.app).get(`/admin/dead-letters/${gw.queue.name}.${job.id}`).set('Authorization', `Bearer ${ADMIN}`);
      expect(letter.body.error).toMatch(/^note_unconfirmed: .*404/);
      expect((await request(gw.app).post(`/admin/dead-letters/${gw.queue.name}.${job.id}/replay`).set('Authorization', `Bearer ${ADMIN}`)).status).toBe(202);
      await eventually(async () => ((await gw.queue.getJobState(job.id!)) === 'completed' ? true : null));
      await untilGatewayDrained(gw);
      expect(notesOf(caseId)).toHaveLength(1);
      expect(filedAgain()).toEqual([]);
    });
  });

  describe('a dead letter replayed after the idempotency window', () => {
    const filedAgain = (from: number) => primero.created.slice(from).filter((c) => String(c.protection_concerns_other).includes(WORDS.later));

    it('still knows its note may be in the record: with the link gone by then, it finds the note there and files no second case', async () => {
      const from = nextPhone();
      const { reference, caseId } = await referral(from);
      const cases = primero.created.length;
      // Primero stores the note and the answer is lost (504); before the retry looks, the case leaves the API user's scope.
      primero.onNextPatchOf(caseId, [504, 'Gateway Time-out'], () => primero.forbidden.add(caseId));
      expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
      const job = await eventually(async () => (await gw.queue.getFailed()).find((j) => j.id?.startsWith(`m-${reference}-`)) ?? null);
      expect(job.failedReason).toMatch(/^note_unconfirmed: /);
      expect(notesOf(caseId)).toHaveLength(1);
      // Days later: the ledger entry has gone with its window, the link was forgotten, the case is back in scope.
      await gw.redis.del(gatewayKey(gw.config.QUEUE_PREFIX, 'accepted', job.data.idempotencyKey as string));
      await gw.references.remove(reference);
      primero.forbidden.delete(caseId);
      expect((await request(gw.app).post(`/admin/dead-letters/${gw.queue.name}.${job.id}/replay`).set('Authorization', `Bearer ${ADMIN}`)).status).toBe(202);
      expect(await eventually(async () => ((await gw.queue.getJobState(job.id!)) === 'completed' ? 'completed' : null))).toBe('completed');
      await untilGatewayDrained(gw);
      expect(notesOf(caseId)).toHaveLength(1);
      expect(filedAgain(cases)).toEqual([]);
    });
  });

  describe('a note whose write was answered, then could not be checked', () => {
    const filedAgain = (from: number) => primero.created.slice(from).filter((c) => String(c.protection_concerns_other).includes(WORDS.later));
    /** The link made again for another record (gone past its retention, then taken by another report's adoption). */
    const relink = async (reference: string, caseId: string) => {
      const link = await gw.references.get(reference);
      await gw.references.remove(reference);
      await gw.references.saveLink({ ...link!, caseId });
    };

    it('is a dead letter, never a second case, when Primero answered 200 and the record then answers 403 to the check', async () => {
      const from = nextPhone();
      const { reference, caseId } = await referral(from);
      const cases = primero.created.length;
      // Primero stores the note but its answer leaves the form out (so the gateway reads the record to check); by then
      // the case has left the API user's scope.
      primero.onNextPatchOf(caseId, [200, { data: { id: caseId } }], () => primero.forbidden.add(caseId));
      try {
        expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
        const job = await eventually(async () => (await gw.queue.getFailed()).find((j) => j.id?.startsWith(`m-${reference}-`)) ?? null);
        expect(job.failedReason).toMatch(/^note_unconfirmed: Primero accepted the note/);
        expect(filedAgain(cases)).toEqual([]);
        await job.remove();
      } finally {
        primero.afterPatchCommit = () => undefined;
        primero.forbidden.delete(caseId);
      }
    });

    it('is a dead letter, never a second case, when Primero answered 200 and the record then answers 404 to the check', async () => {
      const from = nextPhone();
      const { reference, caseId } = await referral(from);
      const cases = primero.created.length;
      primero.onNextPatchOf(caseId, [200, { data: { id: caseId } }], () => primero.deleted.add(caseId));
      try {
        expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
        const job = await eventually(async () => (await gw.queue.getFailed()).find((j) => j.id?.startsWith(`m-${reference}-`)) ?? null);
        expect(job.failedReason).toMatch(/^note_unconfirmed: Primero accepted the note/);
        expect(filedAgain(cases)).toEqual([]);
        await job.remove();
      } finally {
        primero.afterPatchCommit = () => undefined;
        primero.deleted.delete(caseId);
      }
    });

    it('looks in the record its note went to when the link was made again for another record meanwhile, and writes no second note', async () => {
      const from = nextPhone();
      const { reference, caseId } = await referral(from);
      const cases = primero.created.length;
      const other = randomUUID();
      primero.records.set(other, { ...primero.records.get(caseId)!, id: other, notes_section: [] });
      // The note lands, its answer is lost; before the retry the link is gone and made again, for another record.
      primero.onNextPatchOf(caseId, [504, 'Gateway Time-out'], () => relink(reference, other));
      try {
        expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
        const job = await eventually(async () => (await gw.queue.getCompleted()).find((j) => j.id?.startsWith(`m-${reference}-`)) ?? null);
        expect(job.id).toBeDefined();
        expect(notesOf(caseId)).toHaveLength(1);
        expect(notesOf(other)).toEqual([]);
        expect(filedAgain(cases)).toEqual([]);
      } finally {
        primero.afterPatchCommit = () => undefined;
      }
    });

    it('files the words alone, never into the record the link names now, when the one its note went to does not hold it', async () => {
      const from = nextPhone();
      const { reference, caseId } = await referral(from);
      const cases = primero.created.length;
      const other = randomUUID();
      primero.records.set(other, { ...primero.records.get(caseId)!, id: other, notes_section: [] });
      // The PATCH never landed (the record is as it was), its answer a 504; the link is made again for another record.
      const before = primero.records.get(caseId)!;
      primero.onNextPatchOf(caseId, [504, 'Gateway Time-out'], async () => {
        primero.records.set(caseId, before);
        await relink(reference, other);
      });
      try {
        expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
        await eventually(async () => (await gw.queue.getCompleted()).find((j) => j.id?.startsWith(`m-${reference}-`)) ?? null);
        expect(notesOf(caseId)).toEqual([]);
        expect(notesOf(other)).toEqual([]);
        expect(filedAgain(cases)).toHaveLength(1);
      } finally {
        primero.afterPatchCommit = () => undefined;
      }
    });
  });

  describe('a note whose PATCH commits late, after a retry decided to file the words alone', () => {
    const filedAgain = (from: number) => primero.created.slice(from).filter((c) => String(c.protection_concerns_other).includes(WORDS.later));

    it('is found by the next retry, which files no case: the words are in Primero once', async () => {
      const from = nextPhone();
      const { reference, caseId } = await referral(from);
      const cases = primero.created.length;
      const before = primero.records.get(caseId)!;
      let committed: Record<string, unknown> | undefined;
      // The PATCH times out and is still running in Primero (not yet in the record); the link goes meanwhile.
      primero.onNextPatchOf(caseId, [504, 'Gateway Time-out'], async () => {
        committed = primero.records.get(caseId);
        primero.records.set(caseId, before);
        await gw.references.remove(reference);
      });
      // The retry reads the record without the note and sets out to file the words alone; that create fails.
      const creates = primero.createCalls;
      primero.failCreates = 1;
      try {
        expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
        await eventually(() => (primero.createCalls > creates ? true : null));
        // Now the first PATCH commits.
        primero.records.set(caseId, committed!);
        await eventually(async () => (await gw.queue.getCompleted()).find((j) => j.id?.startsWith(`m-${reference}-`)) ?? null, 20000);
        await untilGatewayDrained(gw);
        expect(notesOf(caseId)).toHaveLength(1);
        expect(filedAgain(cases)).toEqual([]);
      } finally {
        primero.afterPatchCommit = () => undefined;
        primero.failCreates = 0;
      }
    });
  });

  describe('a follow-up filed as a case of its own', () => {
    it('stays one, however late it is replayed: a link under the record\'s reference made again meanwhile gets no note', async () => {
      const from = nextPhone();
      const { reference, caseId } = await referral(from);
      const cases = primero.created.length;
      const link = (await gw.references.get(reference))!;
      // The follow-up is stored while the link exists; by the time a worker takes it, the link is gone (forgotten or
      // expired), so its words are to be filed alone; Primero refuses that create, and the job is a dead letter.
      await gw.queue.pause();
      try {
        expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
        await gw.references.remove(reference);
        primero.refuseCreates = 1;
      } finally {
        await gw.queue.resume();
      }
      const job = await eventually(async () => (await gw.queue.getFailed()).find((j) => j.id?.startsWith(`m-${reference}-`)) ?? null);
      expect(primero.created.slice(cases)).toEqual([]);
      // Later, the reference leads to the record again; an operator replays the dead letter.
      await gw.references.saveLink(link);
      expect((await request(gw.app).post(`/admin/dead-letters/${gw.queue.name}.${job.id}/replay`).set('Authorization', `Bearer ${ADMIN}`)).status).toBe(202);
      await eventually(async () => ((await gw.queue.getJobState(job.id!)) === 'completed' ? true : null));
      await untilGatewayDrained(gw);
      expect(notesOf(caseId)).toEqual([]);
      expect(primero.created.slice(cases).filter((c) => String(c.protection_concerns_other).includes(WORDS.later))).toHaveLength(1);
    });
  });

  describe('a follow-up run again after its note was added, its link since made again for another record', () => {
    it('alerts no one about the other record, writes nothing there and files nothing', async () => {
      const from = nextPhone();
      const { reference, caseId } = await referral(from);
      expect(messageOf((await sms(from, WORDS.later)).text)).toBe(followUpAck(reference));
      await eventually(() => (notesOf(caseId).length ? true : null));
      await untilGatewayDrained(gw);
      const job = (await gw.queue.getCompleted()).find((j) => j.id?.startsWith(`m-${reference}-`))!;
      const [cases, deliveries] = [primero.created.length, push.deliveries.length];
      // Another record, owned by another caseworker, that the reference's link now names (gone, then made again).
      const other = randomUUID();
      primero.records.set(other, { ...primero.records.get(caseId)!, id: other, notes_section: [], owned_by: 'cp_worker' });
      const link = await gw.references.get(reference);
      await gw.references.remove(reference);
      await gw.references.saveLink({ ...link!, caseId: other });
      // A worker that died before the job completed: it runs again, its note marks saying the note was added.
      await job.retry('completed');
      await eventually(async () => ((await gw.queue.getJobState(job.id!)) === 'completed' ? true : null));
      await untilGatewayDrained(gw);
      expect(push.deliveries.slice(deliveries).filter((d) => d.plaintext.includes(other))).toEqual([]);
      expect(notesOf(other)).toEqual([]);
      expect(notesOf(caseId)).toHaveLength(1);
      expect(primero.created.slice(cases)).toEqual([]);
    });
  });

  describe('a repeat delivery is as sensitive as the first delivery decided', () => {
    const ledger = () => new AcceptanceLedger(gw.redis, gw.config.QUEUE_PREFIX, 3600);

    it('re-adds a job the first delivery decided to protect as sensitive, though this delivery finds no record', async () => {
      const messageSid = `SM${'6'.repeat(32)}`;
      // A first delivery that kept the words apart because of a sensitive record, and died before its job was added.
      await ledger().claim(gw.services.hasher.deduplicationId(`twilio:${messageSid}`), 'SENS2345', randomUUID(), 60_000, undefined, undefined, undefined, true);
      expect(messageOf((await sms(nextPhone(), WORDS.other, messageSid)).text)).toBe(replyText(keywords, 'eng', 'unknown', 'SENS2345'));
      const own = await eventually(() => primero.created.find((c) => c.other_agency_id === 'SENS2345'));
      await eventually(() => pushesTo('psea-phone', String(own.id)).length || null);
      await untilGatewayDrained(gw);
      expect(own.module_id).toBe('primeromodule-gbv');
      expect(pushesTo('triage-phone', String(own.id))).toEqual([]);
    });
  });

  describe('RapidPro: POST /webhooks/rapidpro/message', () => {
    const post = (body: object) => request(gw.app).post('/webhooks/rapidpro/message').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));
    const flow = { uuid: randomUUID() };

    it("adds the message to the contact's open case and says follow_up: true", async () => {
      const contact = { uuid: randomUUID(), urn: `tel:${nextPhone()}`, name: 'Amani Njeri' };
      const first = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json')
        .send({ contact, flow, run: { uuid: randomUUID() }, results: { concern: { value: WORDS.first, category: 'All Responses' } } });
      const link = await eventually(() => gw.references.get(first.body.reference));
      const res = await post({ contact, flow, results: { message: { value: WORDS.again, category: 'All Responses' } } });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ status: 'accepted', reference: first.body.reference, duplicate: false, follow_up: true });
      const [note] = await eventually(() => (notesOf(link.caseId).length ? notesOf(link.caseId) : null));
      expect(note).toMatchObject({ note_subject: 'Message from reporter (RapidPro)', note_text: WORDS.again });
    });

    it('tells the flow to send nothing (silent: true) when the case it joined says messages to this phone are not safe', async () => {
      const contact = { uuid: randomUUID(), urn: `tel:${nextPhone()}` };
      const first = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json')
        .send({ contact, flow, run: { uuid: randomUUID() }, results: { concern: { value: WORDS.first, category: 'All Responses' }, safe_to_contact: { value: 'no', category: 'No' } } });
      const link = await eventually(() => gw.references.get(first.body.reference));
      expect(link.safeToContact).toBe(false);
      const res = await post({ contact, flow, results: { message: { value: WORDS.again, category: 'All Responses' } } });
      expect(res.body).toEqual({ status: 'accepted', reference: first.body.reference, duplicate: false, follow_up: true, silent: true });
      await eventually(() => (notesOf(link.caseId).length ? true : null));
    });

    it("never joins, nor names, the case of the phone number a body claims: only the contact's own UUID finds its cases", async () => {
      const victim = { uuid: randomUUID(), urn: `tel:${nextPhone()}` };
      const first = await request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json')
        .send({ contact: victim, flow, run: { uuid: randomUUID() }, results: { concern: { value: WORDS.first, category: 'All Responses' } } });
      const link = await eventually(() => gw.references.get(first.body.reference));
      // A token holder posting as a stranger contact with the victim's number.
      const res = await post({ contact: { uuid: randomUUID(), urn: victim.urn }, flow, results: { message: { value: WORDS.again, category: 'All Responses' } } });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ follow_up: false });
      expect(res.body.reference).not.toBe(first.body.reference);
      await untilGatewayDrained(gw);
      expect(notesOf(link.caseId)).toEqual([]);
    });

    it('stores the message of a contact with no open case as a referral and says follow_up: false', async () => {
      const contact = { uuid: randomUUID(), urn: `tel:${nextPhone()}` };
      const res = await post({ contact, flow, input: WORDS.other, results: {} });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ status: 'accepted', duplicate: false, follow_up: false });
      await eventually(() => gw.references.get(res.body.reference));
      expect(primero.created.find((c) => c.other_agency_id === res.body.reference)!.protection_concerns_other).toContain(WORDS.other);
      expect((await post({ contact, flow, input: WORDS.other, results: {} })).body).toMatchObject({ reference: res.body.reference, duplicate: true, follow_up: false });
    });

    it('takes each message a looping flow passes through the same run and node as its own, and a repeated delivery of one as a duplicate', async () => {
      const contact = { uuid: randomUUID(), urn: `tel:${nextPhone()}` };
      const run = { uuid: randomUUID() };
      const node = randomUUID();
      const first = await post({ contact, flow, run, node, input: WORDS.other, results: {} });
      const second = await post({ contact, flow, run, node, input: WORDS.later, results: {} });
      expect([first.body.duplicate, second.body.duplicate]).toEqual([false, false]);
      const inputUuid = randomUUID();
      const once = await post({ contact, flow, run, node, input: { uuid: inputUuid, text: WORDS.again }, results: {} });
      const again = await post({ contact, flow, run, node, input: { uuid: inputUuid, text: WORDS.again }, results: {} });
      expect(again.body).toMatchObject({ reference: once.body.reference, duplicate: true });
      const storedWords = () =>
        [...primero.created.map((c) => String(c.protection_concerns_other)), ...[...primero.records.values()].flatMap((r) => ((r.notes_section ?? []) as Array<Record<string, string>>).map((n) => n.note_text))].join('\n');
      await eventually(() => storedWords().includes(WORDS.later) && storedWords().includes(WORDS.other));
    });

    it('refuses a body that carries no message', async () => {
      const res = await post({ contact: { uuid: randomUUID(), urn: `tel:${nextPhone()}` }, flow, results: {} });
      expect([res.status, res.body.error.code]).toEqual([422, 'no_message']);
    });
  });

  it('logged none of the personal data it was sent', () => {
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});

describe('follow-ups when Redis goes away', () => {
  it('answers 503 to a message that may be a follow-up: nothing acknowledged that is not stored', async () => {
    const redis = await PrivateRedis.start();
    const gw = await startGateway({ prefix: uniquePrefix('follow-ups-down'), workers: false, env: { REDIS_URL: redis.url, ENQUEUE_TIMEOUT_MS: '500' } });
    try {
      const body = { contact: { uuid: randomUUID(), urn: 'tel:+254711609999' }, flow: { uuid: randomUUID() }, input: WORDS.again, results: {} };
      const post = () => request(gw.app).post('/webhooks/rapidpro/message').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));
      expect((await post()).status).toBe(202);
      await redis.stop();
      const down = await post();
      expect([down.status, down.body.error.code]).toEqual([503, 'unavailable']);
      expectNoPersonalData(gw.logs.text, [WORDS.again, '254711609999']);
    } finally {
      await redis.boot();
      // Closing deletes the test's keys: it waits for the connection to be back.
      await eventually(async () => ((await request(gw.app).get('/readyz')).status === 200 ? true : undefined));
      await gw.close();
      await redis.destroy();
    }
  });
});
