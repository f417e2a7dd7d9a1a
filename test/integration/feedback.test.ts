import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { twilioSignature } from '../../src/channels/twilio/signature';
import { endFeedbackMergeWindows, shippedMappings, startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway, untilGatewayDrained } from '../support/gateway';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PRIMERO, RecordingPrimero } from '../support/primero-fake';

const PUBLIC_URL = 'https://gateway.example.org';
const TWILIO_TOKEN = 'twilio-auth-token-0002';
const REPORT = 'the distribution officer asked me for sex in exchange for food';

let phones = 0;
/** Each contact has its own number: the merge window is per sender. */
function feedbackBody(contact: string, category: string, description: string, callback = 'yes') {
  const urn = `tel:+2547880${String(100000 + (phones++ % 900000))}`;
  return {
    contact: { uuid: contact, urn, language: 'eng' },
    flow: { uuid: '3c1f6a2e-2b0d-4c55-9a1e-7c4f3b2d1e00' },
    run: { uuid: randomUUID() },
    results: {
      category: { value: category === 'sea' ? '4' : category, category },
      description: { value: description, category: 'All Responses' },
      callback: { value: callback, category: callback === 'yes' ? 'Yes' : 'No' },
    },
  };
}

const postFeedback = (gw: Gateway, body: unknown) =>
  request(gw.app).post('/webhooks/rapidpro/feedback').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));

describe('feedback and complaints', () => {
  const PERSONAL_DATA = [REPORT, 'sex in exchange', 'clinic', 'nurse', 'water', '2547880', '254788999000', '254799', /"category":"sea"/];
  let gw: Gateway;
  let primero: RecordingPrimero;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({
      prefix: uniquePrefix('feedback'),
      env: {
        PUBLIC_URL,
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        SENSITIVE_MODULE_ID: 'primeromodule-gbv',
        SENSITIVE_FOCAL_POINT: 'psea_focal_point',
        FEEDBACK_MERGE_WINDOW_SECONDS: '2',
      },
    });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it.each([
    ['complaint', 'the clinic was closed all week'],
    ['suggestion', 'open the clinic on saturdays'],
    ['thanks', 'the nurse was kind'],
  ])('files a %s as a case caseworkers can find by category and reference', async (category, description) => {
    const res = await postFeedback(gw, feedbackBody(randomUUID(), category, description));
    expect(res.status).toBe(202);
    const reference = res.body.reference as string;
    const link = await eventually(() => gw.references.get(reference));
    const data = primero.created.find((c) => c.other_agency_id === reference)!;
    expect(data).toMatchObject({
      module_id: 'primeromodule-cp',
      name_first: 'Feedback',
      other_id_no: `feedback-${category}`,
      protection_concerns_other: `${description} | Callback requested: yes`,
    });
    expect(link.sensitive).toBe(false);
    expect(primero.sent('flag').find((f) => f.id === link.caseId)).toBeUndefined();
  });

  it('routes a sexual exploitation report to its module and focal point only, flagged, without echoing it', async () => {
    const res = await postFeedback(gw, feedbackBody(randomUUID(), 'sea', REPORT, 'no'));
    expect(res.status).toBe(202);
    expect(JSON.stringify(res.body)).not.toMatch(/sex|sea/);
    const reference = res.body.reference as string;
    const link = await eventually(async () => {
      const l = await gw.references.get(reference);
      return l?.steps.assignedAt ? l : undefined;
    });
    const data = primero.created.find((c) => c.other_agency_id === reference)!;
    expect(data).toMatchObject({ module_id: 'primeromodule-gbv', name_first: 'Sensitive report', other_id_no: 'feedback-sea' });
    expect(primero.sent('flag').filter((f) => f.id === link.caseId)).toEqual([
      { id: link.caseId, body: { data: { date: expect.any(String), message: expect.stringContaining('restricted handling') } } },
    ]);
    expect(primero.sent('assign').filter((a) => a.id === link.caseId)).toEqual([
      { id: link.caseId, body: { data: { transitioned_to: 'psea_focal_point', notes: expect.not.stringContaining('food') } } },
    ]);
    expect(JSON.stringify(primero.sent('flag')) + JSON.stringify(primero.sent('assign'))).not.toContain('food');
    expect(link.sensitive).toBe(true);
  });

  it('acknowledges a sensitive SMS report with the reference only', async () => {
    const params = new URLSearchParams({ MessageSid: 'SM-sea-1', AccountSid: 'AC1', From: '+254799000999', To: '+254700000001', Body: `FEEDBACK sea ${REPORT}` });
    const res = await request(gw.app)
      .post('/webhooks/twilio/sms')
      .set('X-Twilio-Signature', twilioSignature(TWILIO_TOKEN, `${PUBLIC_URL}/webhooks/twilio/sms`, params))
      .type('form')
      .send(params.toString());
    const reply = /<Message>(.*)<\/Message>/.exec(res.text)![1]!;
    expect(reply).toMatch(/^Thank you for trusting us\. Your reference is [2-9A-HJ-NP-Z]{8}\. A trained focal point will handle this confidentially\.$/);
    const reference = /is ([2-9A-HJ-NP-Z]{8})\./.exec(reply)![1]!;
    await eventually(async () => (await gw.references.get(reference))?.steps.assignedAt);
    expect(primero.created.find((c) => c.other_agency_id === reference)).toMatchObject({ module_id: 'primeromodule-gbv', other_id_no: 'feedback-sea' });
  });

  it('adds a repeated report within the window to the first record and gives the same reference; after the window it opens a new one', async () => {
    const contact = randomUUID();
    const asContact = (b: ReturnType<typeof feedbackBody>) => ({ ...b, contact: { ...b.contact, urn: 'tel:+254788999000' } });
    const first = await postFeedback(gw, asContact(feedbackBody(contact, 'complaint', 'no water at the site')));
    const second = await postFeedback(gw, asContact(feedbackBody(contact, 'complaint', 'still no water today')));
    expect(second.body).toEqual({ status: 'accepted', reference: first.body.reference, duplicate: false });

    const link = await eventually(() => gw.references.get(first.body.reference));
    const patch = await eventually(() => primero.sent('patch').find((p) => p.id === link.caseId));
    // One notes_section entry per merged report, keyed by its own reference, and, since this report gave no clear yes
    // to "safe to contact?", the record's answer lowered to no: nothing else on the record is written.
    expect(patch.body.data).toEqual({
      notes_section: [{ unique_id: expect.stringMatching(/^[0-9a-f-]{36}$/), note_subject: expect.stringMatching(/^Further report \([2-9A-HJ-NP-Z]{8}\)$/), note_text: 'still no water today | Callback requested: yes', note_date: expect.any(String) }],
      safe_to_contact: false,
    });
    expect(primero.records.get(link.caseId)).toMatchObject({ protection_concerns_other: 'no water at the site | Callback requested: yes', notes_section: patch.body.data.notes_section });
    expect(primero.created.filter((c) => c.other_agency_id === first.body.reference)).toHaveLength(1);

    // Another contact claiming the same number is another sender: never merged into this record, nor told its reference.
    const stranger = await postFeedback(gw, asContact(feedbackBody(randomUUID(), 'complaint', 'no water here either')));
    expect(stranger.body.reference).not.toBe(first.body.reference);

    // Another category is another report.
    const other = await postFeedback(gw, asContact(feedbackBody(contact, 'suggestion', 'add a water point')));
    expect(other.body.reference).not.toBe(first.body.reference);

    await endFeedbackMergeWindows(gw);
    const later = await postFeedback(gw, asContact(feedbackBody(contact, 'complaint', 'water again')));
    expect(later.body.reference).not.toBe(first.body.reference);
    await eventually(() => primero.created.find((c) => c.other_agency_id === later.body.reference));
  });


  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});

describe('a feedback mapping that names a field Primero rejects', () => {
  it("ends as a dead letter carrying Primero's 422 detail and none of the report", async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    const primero = new RecordingPrimero(PRIMERO);
    primero.unpermitted.add('feedback_channel');
    const mappings = shippedMappings();
    const feedback = mappings.get('feedback')!;
    mappings.set('feedback', { ...feedback, static_fields: { ...feedback.static_fields, feedback_channel: 'sms' } });
    const gw = await startGateway({ prefix: uniquePrefix('feedback-422'), mappings });
    try {
      const res = await postFeedback(gw, feedbackBody(randomUUID(), 'complaint', 'the latrines are broken'));
      const jobId = `m-${res.body.reference}`;
      const job = await eventually(async () => ((await gw.queue.getJobState(jobId)) === 'failed' ? gw.queue.getJob(jobId) : undefined));
      expect(job!.failedReason).toBe('Primero rejected the case create (422): feedback_channel: is not a permitted field');
      expect(job!.failedReason).not.toContain('latrines');
      expect(primero.created).toHaveLength(0);
      expect(gw.logs.text).not.toContain('latrines');
    } finally {
      await gw.close();
      nock.cleanAll();
      nock.enableNetConnect();
    }
  });
});
