import { randomBytes, randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { PrimeroClient } from '../../src/clients/primero';
import { createLogger } from '../../src/logger';
import type { Job } from 'bullmq';
import { CaseworkerMessageProducer, type CaseworkerMessageJob } from '../../src/queues/caseworker-messages';
import { JOBS } from '../../src/queues/jobs';
import { QUEUES } from '../../src/queues/names';
import { codecFromConfig } from '../../src/security/codec-from-config';
import { sealContext } from '../../src/security/payload-codec';
import type { MappingSet } from '../../src/mappings';
import { CaseworkerMessageLedger } from '../../src/store/caseworker-messages';
import { gatewayKey } from '../../src/store/keys';
import { WhatsAppWindowStore } from '../../src/store/whatsapp-windows';
import { AfricasTalkingPersonSender } from '../../src/channels/africastalking/person-sender';
import { TwilioPersonSender } from '../../src/channels/twilio/person-sender';
import { WhatsAppPersonSender } from '../../src/channels/whatsapp/person-sender';
import { WhatsAppClient } from '../../src/channels/whatsapp/reply-sender';
import type { PersonSender } from '../../src/replies/person-sender';
import { hasherFromConfig } from '../../src/security/identifier-hash';
import { caseworkerMessageProcessor } from '../../workers/caseworker-messages';
import { SharedCounters } from '../../src/store/counters';
import { PollCursorStore } from '../../src/store/poll-cursor';
import { WebhookSightings } from '../../src/store/webhook-sightings';
import { pollerProcessor } from '../../workers/primero-poll';
import { HttpRecorder } from '../support/http-recorder';
import { LogCapture, scrapeMetrics, shippedMappings, startGateway, uniquePrefix, untilGatewayDrained, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PRIMERO, primeroWebhookBody, RecordingPrimero } from '../support/primero-fake';

const RAPIDPRO = 'http://rapidpro-replies.test';
const NOTIFY_FLOW = 'a758539d-c2da-4c70-87f9-6b002084c35f';
const REPLY_FLOW = '5e0c3a4b-9d27-4f61-8a1e-3c7b2d9f4e10';
const WEBHOOK_KEY = 'primero-webhook-key-replies';
const TWILIO = 'http://twilio-replies.test';
const TWILIO_SID = `AC${'1'.repeat(32)}`;
const SUBJECT = 'Message to reporter';
const CHILD = { name: 'Nyokabi Achieng', words: 'my stepfather locks me out at night' };
/** Each test's own words from the caseworker: every one of them must stay out of the logs. */
const SAID: string[] = [];
const PHONES: string[] = [];

type FlowStart = { flow: string; urns?: string[]; contacts?: string[]; params: Record<string, string> };
type Answer = (cb: (err: null, answer: [number, Record<string, unknown>]) => void) => void;

describe('a caseworker note becomes one message to the person, and its outcome comes back as a note', () => {
  let gw: Gateway;
  let primero: RecordingPrimero;
  let mappings: MappingSet;
  /** Reply-flow starts RapidPro accepted, and every reply-flow start attempt it saw. */
  const accepted: FlowStart[] = [];
  const attempts: FlowStart[] = [];
  /** Scripted answers to reply-flow starts, taken before the default 201. */
  const script: Answer[] = [];
  let phone = 0;

  const primeroWebhook = (recordId: string, at: string) =>
    request(gw.app).post('/webhooks/primero').set('x-api-key', WEBHOOK_KEY).type('json').send(JSON.stringify(primeroWebhookBody('partial', recordId, at)));

  async function newRecord(intent: 'referral' | 'feedback' = 'referral'): Promise<{ reference: string; recordId: string; urn: string }> {
    const number = `+25479${String(1000000 + phone++)}`;
    PHONES.push(number, number.slice(1));
    const results =
      intent === 'referral'
        ? { name: { value: CHILD.name, category: 'All Responses' }, concern: { value: CHILD.words, category: 'All Responses' }, consent: { value: 'Yes', category: 'Yes' } }
        : { category: { value: '4', category: 'sea' }, description: { value: CHILD.words, category: 'All Responses' }, callback: { value: 'yes', category: 'Yes' } };
    const res = await request(gw.app)
      .post(`/webhooks/rapidpro/${intent}`)
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send(JSON.stringify({ contact: { uuid: randomUUID(), urn: `tel:${number}`, language: 'eng' }, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results }));
    expect(res.status).toBe(202);
    const link = await eventually(() => gw.references.get(res.body.reference));
    await untilGatewayDrained(gw);
    return { reference: res.body.reference as string, recordId: link.caseId, urn: `tel:${number}` };
  }

  /** A caseworker adds a note in Primero (and, unless told, the record says contacting the number is safe). */
  function writeNote(recordId: string, text: string, over: { author?: string; safe?: unknown; subject?: string } = {}): { noteId: string; at: string } {
    SAID.push(text);
    const noteId = randomUUID();
    const record = primero.records.get(recordId)!;
    const notes = [...((record.notes_section as unknown[]) ?? []), { unique_id: noteId, note_subject: over.subject ?? SUBJECT, note_text: text, note_created_by: over.author ?? 'cp_worker', note_date: new Date().toISOString() }];
    const fields: Record<string, unknown> = { notes_section: notes };
    if (!('safe' in over)) fields.safe_to_contact = true;
    else if (over.safe !== undefined) fields.safe_to_contact = over.safe;
    return { noteId, at: primero.change(recordId, fields) };
  }

  /** The outcome notes the gateway wrote on the record, by subject. */
  const outcomeNotes = (recordId: string): string[] =>
    primero
      .sent('patch')
      .filter((p) => p.id === recordId && Array.isArray(p.body.data.notes_section))
      .flatMap((p) => (p.body.data.notes_section as Array<{ note_subject: string }>).map((n) => n.note_subject));

  async function noteAndWait(recordId: string, text: string, over: Parameters<typeof writeNote>[2] = {}): Promise<string> {
    const { at } = writeNote(recordId, text, over);
    expect((await primeroWebhook(recordId, at)).status).toBe(202);
    await eventually(() => outcomeNotes(recordId).length > 0, 15000, 'the outcome note');
    await untilGatewayDrained(gw);
    return outcomeNotes(recordId)[0]!;
  }

  const startsTo = (urn: string, list: FlowStart[] = accepted) => list.filter((s) => s.urns?.includes(urn));

  /** The worker's processor on this gateway's stores, with the sender given (jobs are handed to it directly). */
  const directProcessor = (sender: PersonSender, ledger = new CaseworkerMessageLedger(gw.redis, gw.config.QUEUE_PREFIX, gw.config.REFERENCE_RETENTION_DAYS)) =>
    caseworkerMessageProcessor({
      codec: codecFromConfig(gw.config),
      ledger,
      contacts: gw.services.contacts,
      primero: new PrimeroClient({ baseUrl: PRIMERO, user: 'sms_gateway', password: 'secret-password', timeoutMs: 1000 }),
      mappings,
      senderFor: () => sender,
      subject: SUBJECT,
      sensitiveAllowed: [],
      trace: gw.services.trace,
      counters: new SharedCounters(gw.redis, gw.config.QUEUE_PREFIX),
      logger: createLogger('info', gw.logs),
      queue: gw.services.registry.get(QUEUES.caseworkerMessagesRapidpro),
      authFailurePauseMs: 60_000,
    });
  const waWindows = () => new WhatsAppWindowStore(gw.redis, gw.config.QUEUE_PREFIX, hasherFromConfig(gw.config));
  const jobOf = (data: CaseworkerMessageJob, id: string = randomUUID()) => ({ id, data, opts: { attempts: 3 }, attemptsMade: 0, queueName: QUEUES.caseworkerMessagesRapidpro }) as unknown as Job<CaseworkerMessageJob>;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    nock(RAPIDPRO)
      .persist()
      .get('/api/v2/flows.json')
      .query(true)
      // As GET /api/v2/flows.json names an imported background flow (nyaruka/rapidpro temba/api/v2/serializers.py FlowReadSerializer).
      .reply((uri) => [200, { next: null, previous: null, results: [{ uuid: new URL(uri, RAPIDPRO).searchParams.get('uuid'), name: 'flow', type: 'background', archived: false }] }])
      .post('/api/v2/flow_starts.json')
      .reply((_uri, body, cb) => {
        const start = body as FlowStart;
        if (start.flow !== REPLY_FLOW) return cb(null, [201, { uuid: randomUUID(), status: 'pending' }]);
        attempts.push(start);
        const scripted = script.shift();
        const ok = () => {
          accepted.push(start);
          cb(null, [201, { uuid: randomUUID(), status: 'pending' }]);
        };
        if (scripted) scripted((err, answer) => (answer[0] === 201 ? ok() : cb(err, answer)));
        else ok();
      });
    mappings = shippedMappings();
    for (const intent of ['referral', 'feedback'] as const) mappings.set(intent, { ...mappings.get(intent)!, safe_to_contact_field: 'safe_to_contact' });
    gw = await startGateway({
      prefix: uniquePrefix('caseworker-messages'),
      mappings,
      env: {
        DATA_KEY: randomBytes(32).toString('base64'),
        PRIMERO_WEBHOOK_API_KEY: WEBHOOK_KEY,
        PRIMERO_POLL_INTERVAL_SECONDS: '0',
        RAPIDPRO_URL: RAPIDPRO,
        RAPIDPRO_TOKEN: 'rapidpro-api-token-replies',
        RAPIDPRO_NOTIFY_FLOW_UUID: NOTIFY_FLOW,
        RAPIDPRO_RATE_PER_HOUR: '360000',
        RAPIDPRO_REPLY_FLOW_UUID: REPLY_FLOW,
        TWILIO_ACCOUNT_SID: TWILIO_SID,
        TWILIO_AUTH_TOKEN: 'twilio-auth-token-replies',
        TWILIO_FROM: '+15005550006',
        TWILIO_API_URL: TWILIO,
        PUBLIC_URL: 'https://gateway.example.org',
        // Long enough that a paused channel stays paused until a test lifts the pause itself.
        AUTH_FAILURE_PAUSE_MS: '600000',
        REPLY_TIMEOUT_MS: '300',
        REPLY_SENSITIVE_ALLOWED: 'psea_fp',
        SENSITIVE_FOCAL_POINT: 'psea_fp',
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, [CHILD.name, CHILD.words, ...SAID, ...PHONES]);
  });

  it('sends the note once to the person who wrote in, through the reply flow, and tells the caseworker it was sent', async () => {
    const { reference, recordId, urn } = await newRecord();
    const text = 'Hello, this is Grace from the child protection office. Can you come on Tuesday?';
    const { noteId, at } = writeNote(recordId, text);
    await primeroWebhook(recordId, at);
    await eventually(() => outcomeNotes(recordId).length === 1, 15000, 'the outcome note');
    expect(startsTo(urn)).toEqual([expect.objectContaining({ flow: REPLY_FLOW, urns: [urn], params: { text, reference } })]);
    const [entry] = primero.sent('patch').find((p) => p.id === recordId && p.body.data.notes_section)!.body.data.notes_section as Array<Record<string, string>>;
    expect(entry!.note_subject).toMatch(new RegExp(`^${SUBJECT}: sent ${new Date().getUTCFullYear()}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC$`));
    expect(entry!.unique_id).not.toBe(noteId);
    expect(JSON.stringify(entry)).not.toContain(text);
    expect(JSON.stringify(entry)).not.toContain(urn.slice(5));
    await untilGatewayDrained(gw);

    // The same webhook again, then a later change: the notes are read again, nothing is sent again.
    await primeroWebhook(recordId, at);
    const later = primero.change(recordId, { status: 'open', workflow: 'case_plan' });
    await primeroWebhook(recordId, later);
    await untilGatewayDrained(gw);
    expect(startsTo(urn)).toHaveLength(1);
    expect(outcomeNotes(recordId)).toHaveLength(1);
    // The outcome note is on the case, and it is not itself a message to the person.
    expect((primero.records.get(recordId)!.notes_section as Array<{ note_subject: string }>).map((n) => n.note_subject)).toEqual([SUBJECT, entry!.note_subject]);
    expect(await scrapeMetrics(gw)).toMatch(/gateway_caseworker_messages_total\{outcome="sent"\} 1/);
    expect(JSON.stringify(await gw.services.trace.timeline(reference))).toContain('"outcome":"sent"');
  });

  it('finds the note through the poller as well as through the webhook', async () => {
    const { recordId, urn } = await newRecord();
    const text = 'We found a place for you at the shelter, reply YES if you want it';
    writeNote(recordId, text, { subject: 'MESSAGE TO REPORTÉR' });
    nock(PRIMERO)
      .get('/api/v2/cases')
      .query(true)
      .reply(200, () => ({ data: [primero.records.get(recordId)].map((r) => ({ id: r!.id, last_updated_at: r!.last_updated_at, owned_by: r!.owned_by, status: r!.status, workflow: r!.workflow })) }));
    const poll = pollerProcessor({
      primero: new PrimeroClient({ baseUrl: PRIMERO, user: 'sms_gateway', password: 'secret-password', timeoutMs: 1000 }),
      events: gw.services.notifications.events,
      cursor: new PollCursorStore(gw.redis, gw.config.QUEUE_PREFIX),
      logger: createLogger('info', new LogCapture()),
      initialLookbackMs: 3_600_000 * 24 * 30,
      overlapMs: 120_000,
      sightings: new WebhookSightings(gw.redis, gw.config.QUEUE_PREFIX),
      counters: new SharedCounters(gw.redis, gw.config.QUEUE_PREFIX),
      queue: gw.services.registry.get(QUEUES.primeroPoll),
      authFailurePauseMs: 60_000,
    });
    await poll();
    await eventually(() => outcomeNotes(recordId).length === 1, 15000, 'the outcome note');
    expect(startsTo(urn).map((s) => s.params.text)).toEqual([text]);
  });

  // The case's note says why (its caseworkers read the field itself); the reference's trace, shown to any operator, and
  // the log line say only `held_back` where the reason would tell the person's safe-to-contact answer.
  it.each([
    ['the person opted out', 'failed: the person opted out', 'opted_out', { optOut: true }],
    ['the record says contacting the number is not safe', 'not sent: contact not marked safe', 'held_back', { safe: false }],
    ['the record has no answer to "safe to contact"', 'not sent: contact not marked safe', 'held_back', { safe: undefined }],
    ['the answer is unclear', 'not sent: contact not marked safe', 'held_back', { safe: 'maybe' }],
  ])('sends nothing when %s, and says so on the case', async (_what, outcome, traced, how: { optOut?: boolean; safe?: unknown }) => {
    const { reference, recordId, urn } = await newRecord();
    if (how.optOut) await gw.services.contacts.optOut(urn);
    const subject = await noteAndWait(recordId, `Please call me back about your report ${randomUUID().slice(0, 6)}`, 'safe' in how ? { safe: how.safe } : {});
    expect(subject).toBe(`${SUBJECT}: ${outcome}`);
    expect(startsTo(urn, attempts)).toEqual([]);
    const settled = async () => (await gw.services.trace.timeline(reference)).filter((e) => e.event === 'caseworker_message');
    await eventually(async () => (await settled()).length === 1, 5000, 'the trace entry');
    expect((await settled())[0]!.detail).toEqual({ outcome: traced });
    expect(gw.logs.text).not.toContain('not_safe');
  });

  /**
   * Primero's record history for one record, newest first, as its index view writes it (user_name, datetime,
   * record_changes with a changed field's whole value before and after): each save that changed the notes.
   */
  function historyOf(recordId: string, saves: Array<{ user: string; from: unknown[]; to: unknown[] }>) {
    return nock(PRIMERO)
      .persist()
      .get(`/api/v2/cases/${recordId}/record_history`)
      .query(true)
      .reply(() => [200, { data: [...saves].reverse().map((v) => ({ record_id: recordId, record_type: 'Child', datetime: new Date().toISOString(), user_name: v.user, action: 'update', record_changes: [{ notes_section: { from: v.from, to: v.to } }] })), metadata: { total: saves.length, per: 50, page: 1 } }]);
  }
  const notesOf = (recordId: string) => structuredClone(primero.records.get(recordId)!.notes_section as unknown[]);

  it('sends on a sensitive record only for a note the history shows a focal point REPLY_SENSITIVE_ALLOWED names wrote', async () => {
    const { recordId, urn } = await newRecord('feedback');
    expect((await gw.references.get((await gw.references.referenceOfRecord(recordId))!))!.sensitive).toBe(true);
    const saves: Array<{ user: string; from: unknown[]; to: unknown[] }> = [];
    const history = historyOf(recordId, saves);
    try {
      const first = writeNote(recordId, 'This is the caseworker, we want to follow up with you', { author: 'cp_worker' });
      saves.push({ user: 'cp_worker', from: [], to: notesOf(recordId) });
      await primeroWebhook(recordId, first.at);
      await eventually(() => outcomeNotes(recordId).length === 1, 15000, 'the first outcome note');
      await untilGatewayDrained(gw);
      expect(outcomeNotes(recordId)).toEqual([`${SUBJECT}: not sent: sensitive record`]);
      expect(startsTo(urn, attempts)).toEqual([]);
      const reference = (await gw.references.referenceOfRecord(recordId))!;
      expect((await gw.services.trace.timeline(reference)).filter((e) => e.event === 'caseworker_message').map((e) => e.detail)).toEqual([{ outcome: 'held_back' }]);
      expect(await scrapeMetrics(gw)).toMatch(/gateway_caseworker_messages_total\{outcome="sensitive"\} [1-9]/);
      const text = 'This is the focal point; you are safe to talk to me';
      const before = notesOf(recordId).filter((n) => (n as { note_subject: string }).note_subject === SUBJECT);
      const { at } = writeNote(recordId, text, { author: 'psea_fp' });
      saves.push({ user: 'psea_fp', from: before, to: notesOf(recordId) });
      await primeroWebhook(recordId, at);
      await eventually(() => outcomeNotes(recordId).length === 2, 15000, 'the second outcome note');
      expect(outcomeNotes(recordId)[1]).toMatch(new RegExp(`^${SUBJECT}: sent `));
      expect(startsTo(urn).map((s) => s.params.text)).toEqual([text]);
    } finally {
      history.persist(false);
    }
  });

  it.each([
    ['a note that names the focal point as its author but another user saved', 200],
    ['a note whose history the API role may not read', 403],
  ])('sends nothing on a sensitive record for %s', async (_what, status) => {
    const { recordId, urn } = await newRecord('feedback');
    const { at } = writeNote(recordId, 'I am the focal point, trust me', { author: 'psea_fp' });
    const saves = [{ user: 'cp_worker', from: [], to: notesOf(recordId) }];
    const history = status === 200 ? historyOf(recordId, saves) : nock(PRIMERO).persist().get(`/api/v2/cases/${recordId}/record_history`).query(true).reply(403, { errors: [{ code: 403, message: 'Forbidden' }] });
    try {
      expect((await primeroWebhook(recordId, at)).status).toBe(202);
      await eventually(() => outcomeNotes(recordId).length > 0, 15000, 'the outcome note');
      await untilGatewayDrained(gw);
    } finally {
      history.persist(false);
    }
    expect(outcomeNotes(recordId)).toEqual([`${SUBJECT}: not sent: sensitive record`]);
    expect(startsTo(urn, attempts)).toEqual([]);
  });

  it('never sends again when RapidPro did not answer (it may have arrived), and says so', async () => {
    const { recordId, urn } = await newRecord();
    script.push((cb) => setTimeout(() => cb(null, [201, {}]), 1500));
    const subject = await noteAndWait(recordId, 'Your appointment is moved to Thursday morning');
    expect(subject).toBe(`${SUBJECT}: not confirmed: the provider did not answer; it may have arrived`);
    expect(startsTo(urn, attempts)).toHaveLength(1);
    expect(await gw.services.registry.get(QUEUES.caseworkerMessagesRapidpro).getFailedCount()).toBe(0);
  });

  it('retries a send RapidPro refused with 503 (nothing went out), and sends it once', async () => {
    const { recordId, urn } = await newRecord();
    script.push((cb) => cb(null, [503, { detail: 'Service unavailable' }]), (cb) => cb(null, [500, {}]));
    const subject = await noteAndWait(recordId, 'We can meet at the school gate at noon');
    expect(subject).toMatch(new RegExp(`^${SUBJECT}: sent `));
    expect(startsTo(urn, attempts)).toHaveLength(3);
    expect(startsTo(urn)).toHaveLength(1);
  });

  it('gives up after REPLY_ATTEMPTS sends that certainly failed, says so on the case, and keeps the dead letter', async () => {
    const { recordId, urn } = await newRecord();
    for (let i = 0; i < gw.config.REPLY_ATTEMPTS; i++) script.push((cb) => cb(null, [503, { detail: 'Service unavailable' }]));
    const subject = await noteAndWait(recordId, 'The meeting is cancelled, we will call you');
    expect(subject).toBe(`${SUBJECT}: failed: the provider could not be reached; write a new note to try again`);
    expect(startsTo(urn, attempts)).toHaveLength(gw.config.REPLY_ATTEMPTS);
    expect(startsTo(urn)).toEqual([]);
    const dead = (await gw.services.registry.get(QUEUES.caseworkerMessagesRapidpro).getFailed()).filter((j) => j.data.recordId === recordId);
    expect(dead).toHaveLength(1);

    // The operator replays it (as the admin API does) once RapidPro is back: nothing went out before, so it goes now.
    await dead[0]!.retry('failed', { resetAttemptsMade: true });
    await eventually(() => outcomeNotes(recordId).length === 2, 15000, 'the replayed outcome note');
    await untilGatewayDrained(gw);
    expect(startsTo(urn)).toHaveLength(1);
    expect(outcomeNotes(recordId)[1]).toMatch(new RegExp(`^${SUBJECT}: sent `));
  });

  it('keeps a refused send as a sealed dead letter, and tells the caseworker to write again', async () => {
    const { recordId, urn } = await newRecord();
    const text = 'The doctor will see you on Friday at the clinic';
    script.push((cb) => cb(null, [400, { urns: { '0': ['Invalid URN'] } }]));
    const subject = await noteAndWait(recordId, text);
    expect(subject).toBe(`${SUBJECT}: failed: the provider refused the message; write a new note to try again`);
    const dead = (await gw.services.registry.get(QUEUES.caseworkerMessagesRapidpro).getFailed()).find((j) => j.data.recordId === recordId);
    expect(JSON.stringify(dead!.data)).not.toContain(text);
    expect(JSON.stringify(dead!.data)).not.toContain(urn.slice(5));
    expect(dead!.data).toHaveProperty('sealed');
  });

  it('sends a note queued again (after the queue forgot it, or from two webhooks at once) only once: the ledger decides', async () => {
    const { reference, recordId, urn } = await newRecord();
    const text = 'Your sister can come with you to the meeting';
    SAID.push(text);
    const link = (await gw.references.get(reference))!;
    // Added without BullMQ's deduplication: what the queue holds once its window has passed, or after a replay.
    const queue = gw.services.registry.get(QUEUES.caseworkerMessagesRapidpro);
    const entry = JOBS[QUEUES.caseworkerMessagesRapidpro];
    const add = (data: CaseworkerMessageJob) => queue.add(entry.name, codecFromConfig(gw.config).encode({ ...data }, [...entry.sealed], sealContext.job(queue.name)), { attempts: 3, removeOnComplete: true, removeOnFail: false });
    const { noteId } = writeNote(recordId, text);
    // A job as an earlier build stored it, with the note's author and words: they are read from the record now.
    const job = { reference, recordType: 'case' as const, recordId, noteId, author: 'cp_worker', channel: link.channel, intent: link.intent, sensitive: false, urn, contactUuid: null, text: 'stale words' };
    await Promise.all([add(job), add(job)]);
    await eventually(() => outcomeNotes(recordId).length > 0, 15000, 'the outcome note');
    await untilGatewayDrained(gw);
    await add(job);
    await untilGatewayDrained(gw);
    expect(startsTo(urn, attempts).map((s) => s.params.text)).toEqual([text]);
    expect(outcomeNotes(recordId)).toHaveLength(1);
  });

  it('does not send a note whose earlier attempt claimed it and then died: it says the outcome is unknown', async () => {
    const { reference, recordId, urn } = await newRecord();
    primero.change(recordId, { safe_to_contact: true });
    const ledger = new CaseworkerMessageLedger(gw.redis, gw.config.QUEUE_PREFIX, gw.config.REFERENCE_RETENTION_DAYS);
    const noteId = randomUUID();
    // What a worker that died during the send left behind.
    expect(await ledger.claim(recordId, noteId, 'job-7')).toBeNull();
    const sent: string[] = [];
    const process = directProcessor({ send: async (m) => (sent.push(m.reference), { sent: 'text' }) }, ledger);
    const data = { reference, recordType: 'case' as const, recordId, noteId, author: 'cp_worker', channel: 'rapidpro', intent: 'referral', sensitive: false, urn, contactUuid: null, text: 'We will visit you' };
    const job = { id: 'job-7', data, opts: { attempts: 3 }, attemptsMade: 1, queueName: QUEUES.caseworkerMessagesRapidpro } as unknown as Job<CaseworkerMessageJob>;
    expect(await process(job)).toBe('not_confirmed');
    expect(sent).toEqual([]);
    expect(outcomeNotes(recordId)).toEqual([`${SUBJECT}: not confirmed: the provider did not answer; it may have arrived`]);
    // Another job for the same note (a second detection) leaves it alone.
    expect(await process({ ...job, id: 'job-8' } as unknown as Job<CaseworkerMessageJob>)).toBe('duplicate');
    expect(sent).toEqual([]);
  });

  /** Holds the caseworker-messages queue while `during` runs on the notes detection queued. */
  async function whileQueued(recordId: string, at: string, during: () => void): Promise<void> {
    const queue = gw.services.registry.get(QUEUES.caseworkerMessagesRapidpro);
    await queue.pause();
    try {
      expect((await primeroWebhook(recordId, at)).status).toBe(202);
      await eventually(async () => (await queue.getWaitingCount()) > 0, 15000, 'the queued message');
      during();
    } finally {
      await queue.resume();
    }
    await eventually(() => outcomeNotes(recordId).length > 0, 15000, 'the outcome note');
    await untilGatewayDrained(gw);
  }

  const editNote = (recordId: string, noteId: string, over: Record<string, unknown> | null) => {
    const notes = (primero.records.get(recordId)!.notes_section as Array<Record<string, unknown>>).flatMap((n) => (n.unique_id !== noteId ? [n] : over ? [{ ...n, ...over }] : []));
    primero.change(recordId, { notes_section: notes });
  };

  it.each([
    ['deleted', null],
    ['re-titled', { note_subject: 'Interview notes' }],
  ])('sends nothing when the caseworker %s the note after it was queued, and says so', async (_what, over) => {
    const { recordId, urn } = await newRecord();
    const { noteId, at } = writeNote(recordId, 'Wrong case: meet me at the clinic at 3');
    await whileQueued(recordId, at, () => editNote(recordId, noteId, over));
    expect(startsTo(urn, attempts)).toEqual([]);
    expect(outcomeNotes(recordId)).toEqual([`${SUBJECT}: not sent: the note was changed or removed; write a new note to send it`]);
  });

  it('sends the words as corrected after the note was queued, not the first version', async () => {
    const { recordId, urn } = await newRecord();
    const { noteId, at } = writeNote(recordId, 'Come to the office at 9, ask for Peter Otieno');
    const corrected = 'Come to the office at 9';
    SAID.push(corrected);
    await whileQueued(recordId, at, () => editNote(recordId, noteId, { note_text: corrected }));
    expect(startsTo(urn, attempts).map((s) => s.params.text)).toEqual([corrected]);
    expect(outcomeNotes(recordId)[0]).toMatch(new RegExp(`^${SUBJECT}: sent `));
  });

  it.each([
    ['Twilio (error 21610)', 'tel', (url: string) => new TwilioPersonSender({ apiUrl: url, accountSid: `AC${'0'.repeat(32)}`, authToken: 't', from: '+15005550006', timeoutMs: 1000 }), { status: 400, body: { code: 21610, message: 'unsubscribed', status: 400 } }],
    ["Africa's Talking (UserInBlacklist)", 'tel', (url: string) => new AfricasTalkingPersonSender({ apiUrl: url, username: 'sandbox', apiKey: 'k', from: undefined, timeoutMs: 1000 }), { status: 201, body: { SMSMessageData: { Message: 'Sent to 0/1', Recipients: [{ statusCode: 406, status: 'UserInBlacklist', number: '+0', cost: '0', messageId: 'None' }] } } }],
    ['WhatsApp (error 131050)', 'whatsapp', (url: string) => new WhatsAppPersonSender({ client: new WhatsAppClient({ graphUrl: url, phoneNumberId: '1234567890', accessToken: 't', timeoutMs: 1000 }), windows: waWindows(), template: null, logger: createLogger('info', gw.logs) }), { status: 400, body: { error: { message: 'opted out', code: 131050 } } }],
  ])('records the opt-out %s reports, and tells the caseworker the person opted out', async (_what, scheme, senderAt, answer) => {
    const { reference, recordId, urn: telUrn } = await newRecord();
    const urn = scheme === 'tel' ? telUrn : `whatsapp:${telUrn.slice(5).replace('+', '')}`;
    if (scheme === 'whatsapp') await waWindows().open(urn, new Date());
    const { noteId } = writeNote(recordId, 'Please come to the office on Monday');
    const provider = await HttpRecorder.start({ status: answer.status, body: JSON.stringify(answer.body) });
    try {
      const process = directProcessor(senderAt(provider.url));
      expect(await process(jobOf({ reference, recordType: 'case', recordId, noteId, channel: 'twilio', intent: 'referral', sensitive: false, urn, contactUuid: null }))).toBe('opted_out');
      expect(provider.requests).toHaveLength(1);
    } finally {
      await provider.stop();
    }
    expect(outcomeNotes(recordId)).toEqual([`${SUBJECT}: failed: the person opted out`]);
    expect(await gw.services.contacts.isOptedOut(urn)).toBe(true);
  });

  it("keeps sending RapidPro messages while Twilio's credentials are refused: only Twilio's messages wait", async () => {
    const twilio = gw.services.registry.get(QUEUES.caseworkerMessagesTwilio);
    const smsRecord = await newRecord();
    // Made first: a new record waits for every queue to drain, and Twilio's will hold a job.
    const other = await newRecord();
    const { noteId } = writeNote(smsRecord.recordId, 'Your SMS appointment is on Monday');
    const refusing = nock(TWILIO).post(`/2010-04-01/Accounts/${TWILIO_SID}/Messages.json`).reply(401, { code: 20003, message: 'Authenticate' });
    const producer = new CaseworkerMessageProducer((name) => gw.services.registry.get(name), codecFromConfig(gw.config), { attempts: 3, dedupeWindowMs: 60_000 });
    const { reference, recordId, urn } = smsRecord;
    await producer.enqueue({ reference, recordType: 'case', recordId, noteId, channel: 'twilio', intent: 'referral', sensitive: false, urn, contactUuid: null });
    await eventually(async () => (await twilio.getRateLimitTtl()) > 0, 15000, "the Twilio queue's pause");

    const { at } = writeNote(other.recordId, 'The RapidPro message still goes');
    expect((await primeroWebhook(other.recordId, at)).status).toBe(202);
    await eventually(() => outcomeNotes(other.recordId).length > 0, 15000, 'the RapidPro outcome note');
    expect(outcomeNotes(other.recordId)[0]).toMatch(new RegExp(`^${SUBJECT}: sent `));
    expect(outcomeNotes(recordId)).toEqual([]);
    expect(await twilio.getWaitingCount()).toBe(1);

    expect(refusing.isDone()).toBe(true);
    // The operator's part, done here so the next tests find every queue drained.
    await twilio.drain();
    await twilio.removeRateLimitKey();
  });

  it('says so in the log and the metrics when the notes form cannot be read on a gateway record', async () => {
    const { recordId, urn } = await newRecord();
    primero.unreadable.set(recordId, ['notes_section']);
    try {
      const { at } = writeNote(recordId, 'Hidden from the gateway by the role');
      expect((await primeroWebhook(recordId, at)).status).toBe(202);
      await eventually(() => gw.logs.text.includes('caseworker notes cannot be read on this record'), 15000, 'the warning');
      await untilGatewayDrained(gw);
    } finally {
      primero.unreadable.delete(recordId);
    }
    expect(startsTo(urn, attempts)).toEqual([]);
    expect(await scrapeMetrics(gw)).toMatch(/gateway_caseworker_notes_unreadable_total\{at="detection"\} [1-9]/);
  });

  it('does not take a 200 that dropped the outcome note for a written note: it says so loudly', async () => {
    const { recordId, urn } = await newRecord();
    primero.unwritable.add('notes_section');
    try {
      const { at } = writeNote(recordId, 'The caseworker will not see this outcome');
      expect((await primeroWebhook(recordId, at)).status).toBe(202);
      await eventually(() => startsTo(urn).length === 1, 15000, 'the send');
      await untilGatewayDrained(gw);
    } finally {
      primero.unwritable.delete('notes_section');
    }
    expect((primero.records.get(recordId)!.notes_section as unknown[]).length).toBe(1);
    expect(gw.logs.text).toContain('Primero accepted the outcome note but did not store it');
    expect(await scrapeMetrics(gw)).toMatch(/gateway_caseworker_outcome_notes_dropped_total\{outcome="sent"\} 1/);
  });

  it('keeps the ledger entry past the record link even after REFERENCE_RETENTION_DAYS was lowered', async () => {
    const { recordId } = await newRecord();
    const linkTtl = await gw.redis.pttl(gatewayKey(gw.config.QUEUE_PREFIX, 'record-ref', recordId));
    expect(linkTtl).toBeGreaterThan(2 * 86_400_000);
    // The same link, read by a worker started with a one-day retention.
    const ledger = new CaseworkerMessageLedger(gw.redis, gw.config.QUEUE_PREFIX, 1);
    const noteId = randomUUID();
    expect(await ledger.claim(recordId, noteId, 'job-ttl')).toBeNull();
    expect(await ledger.settle(recordId, noteId, 'job-ttl', 'sent', new Date())).toBe(true);
    const [key] = await gw.redis.keys(gatewayKey(gw.config.QUEUE_PREFIX, 'caseworker-message', '*')).then((keys) => Promise.all(keys.map(async (k) => [k, (await gw.redis.hget(k, 'owner')) === 'job-ttl'] as const))).then((rows) => rows.filter(([, mine]) => mine).map(([k]) => k));
    expect(await gw.redis.pttl(key!)).toBeGreaterThan(linkTtl);
  });

  it("retries a send whose sender failed before any request (the WhatsApp window read), and on the last attempt says it failed", async () => {
    const { reference, recordId, urn: telUrn } = await newRecord();
    const urn = `whatsapp:${telUrn.slice(5).replace("+", "")}`;
    const { noteId } = writeNote(recordId, 'We can talk on WhatsApp tomorrow');
    const graph = await HttpRecorder.start({ status: 200, body: '{}' });
    const ledger = new CaseworkerMessageLedger(gw.redis, gw.config.QUEUE_PREFIX, gw.config.REFERENCE_RETENTION_DAYS);
    const brokenWindows = { isOpen: async () => { throw new Error('Connection is closed.'); } } as unknown as WhatsAppWindowStore;
    const sender = new WhatsAppPersonSender({ client: new WhatsAppClient({ graphUrl: graph.url, phoneNumberId: '1234567890', accessToken: 't', timeoutMs: 1000 }), windows: brokenWindows, template: null, logger: createLogger('info', gw.logs) });
    const process = directProcessor(sender, ledger);
    const data: CaseworkerMessageJob = { reference, recordType: 'case', recordId, noteId, channel: 'whatsapp', intent: 'referral', sensitive: false, urn, contactUuid: null };
    try {
      await expect(process(jobOf(data, 'job-local'))).rejects.toThrow('Connection is closed.');
      expect(await ledger.get(recordId, noteId)).toBeNull();
      expect(outcomeNotes(recordId)).toEqual([]);
      const last = { ...jobOf(data, 'job-local'), attemptsMade: 2 } as unknown as Job<CaseworkerMessageJob>;
      await expect(process(last)).rejects.toThrow('Connection is closed.');
    } finally {
      await graph.stop();
    }
    expect(graph.requests).toHaveLength(0);
    expect(outcomeNotes(recordId)).toEqual([`${SUBJECT}: failed: the provider could not be reached; write a new note to try again`]);
  });

  it('leaves notes with another subject alone, and writes nothing in the logs but references', async () => {
    const { recordId, urn } = await newRecord();
    const { at } = writeNote(recordId, 'internal: the mother called, seems worried', { subject: 'Message to reporter later' });
    await primeroWebhook(recordId, at);
    await untilGatewayDrained(gw);
    expect(startsTo(urn, attempts)).toEqual([]);
    expect(outcomeNotes(recordId)).toEqual([]);
    expectNoPersonalData(gw.logs.text, [CHILD.name, CHILD.words, ...SAID, ...PHONES]);
  });
});
