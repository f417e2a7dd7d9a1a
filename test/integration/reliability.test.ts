import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import nock from 'nock';
import request from 'supertest';
import { rapidProIdempotencyKey, rapidProWebhookSchema } from '../../src/channels/rapidpro/parse';
import { createLogger } from '../../src/logger';
import { AcceptanceLedger } from '../../src/store/acceptances';
import { purgeExpired } from '../../src/queues/retention';
import { shippedMappings, startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway, scrapeMetrics, untilGatewayDrained } from '../support/gateway';
import { eventually, untilDrained } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PRIMERO, RecordingPrimero } from '../support/primero-fake';

/**
 * Issue #11 (and #12.1, #13.3): one named test per defect, each against real Redis and a Primero on nock
 * that keeps its records, so what a caseworker would find is what is checked.
 */

function useNock(): void {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
}

function releaseNock(): void {
  nock.cleanAll();
  nock.enableNetConnect();
}

// Body shapes: nyaruka/goflow flows/actions/testdata/call_webhook.json (the editor's default body:
// contact, flow, results) and our shipped flows, which add run and node.
// One RapidPro contact per number, as a workspace has it: a merge is found by the contact's UUID.
const contacts = new Map<string, string>();
const contactOf = (urn: string): string => contacts.get(urn) ?? (contacts.set(urn, randomUUID()), contacts.get(urn)!);

function feedbackBody(urn: string, category: string, description: string, run = randomUUID()) {
  return {
    contact: { uuid: contactOf(urn), urn, language: 'eng' },
    flow: { uuid: '3c1f6a2e-2b0d-4c55-9a1e-7c4f3b2d1e00' },
    run: { uuid: run },
    results: {
      category: { value: category === 'sea' ? '4' : category, category },
      description: { value: description, category: 'All Responses' },
      callback: { value: 'yes', category: 'Yes' },
    },
  };
}

function referralBody(opts: { contact?: string; run?: string | null; concern?: string } = {}) {
  return {
    contact: { uuid: opts.contact ?? randomUUID(), urn: 'tel:+254700111222', language: 'eng' },
    flow: { uuid: '2b6e8c4e-8f65-4c1e-9a56-0a4b6f3f2d11', name: 'Primero Gateway Referral' },
    ...(opts.run === null ? {} : { run: { uuid: opts.run ?? randomUUID() }, node: 'd1aa3a56-0947-4bad-9030-16a505d51b9b' }),
    results: {
      name: { value: 'Test Child', category: 'All Responses' },
      age: { value: '13', category: 'Valid' },
      concern: { value: opts.concern ?? 'they beat me', category: 'All Responses' },
      consent: { value: 'yes', category: 'Yes' },
    },
  };
}

const post = (gw: Gateway, intent: 'referral' | 'feedback', body: unknown, headers: Record<string, string> = {}) =>
  request(gw.app).post(`/webhooks/rapidpro/${intent}`).set('Authorization', `Token ${WEBHOOK_TOKEN}`).set(headers).type('json').send(JSON.stringify(body));

let phones = 0;
const newPhone = () => `tel:+2547331${String(10000 + phones++)}`;
const textOf = (p: RecordingPrimero, caseId: string) => String(p.records.get(caseId)?.protection_concerns_other ?? '');
/** The merged reports on a record: its notes_section entries (the feedback mapping's merge_into). */
const notesOf = (p: RecordingPrimero, caseId: string) => (p.records.get(caseId)?.notes_section ?? []) as Array<{ unique_id: string; note_subject: string; note_text: string }>;
/** Everything a caseworker reads on the record: its own text and every merged report. */
const wordsOf = (p: RecordingPrimero, caseId: string) => [textOf(p, caseId), ...notesOf(p, caseId).map((n) => n.note_text)].join('\n');


/** The dead letter of a report merged into `reference` (its job id is `m-<reference>-<own>`). */
const mergedDeadLetter = (gw: Gateway, reference: string) =>
  eventually(async () => (await gw.queue.getJobs(['failed'])).find((j) => j.id?.startsWith(`m-${reference}-`)));
describe('reliability of acknowledged messages (issue #11)', () => {
  const PERSONAL_DATA = ['guard takes food', 'latrines', 'they beat me', '2547331', 'empties the bins', 'overflow into the well', 'takes our soap', 'have no door', 'latrines flood'];
  let gw: Gateway;
  let primero: RecordingPrimero;

  beforeAll(async () => {
    useNock();
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({ prefix: uniquePrefix('reliability'), env: { FEEDBACK_MERGE_WINDOW_SECONDS: '600', ENQUEUE_TIMEOUT_MS: '300', PRIMERO_TIMEOUT_MS: '1500' } });
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    await gw.close();
    releaseNock();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  it('#11.1 two reports merged at the same time both reach the record, and repeated words from a new run are still added', async () => {
    const urn = newPhone();
    // Sent again on a 503 as RapidPro's flow would be retried: with ENQUEUE_TIMEOUT_MS 300, a loaded machine's first
    // request after the start can miss it, and this test is about the two merges that follow.
    const first = await eventually(async () => {
      const res = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the guard takes food at the distribution'));
      return res.status === 202 ? res : null;
    });
    const link = await eventually(() => gw.references.get(first.body.reference));
    primero.readDelayMs = 250;
    try {
      const [a, b] = await Promise.all([
        post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the guard takes food')),
        post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the latrines are locked at night')),
      ]);
      expect([a.body.reference, b.body.reference]).toEqual([first.body.reference, first.body.reference]);
      await untilDrained(gw.queue);
    } finally {
      primero.readDelayMs = 0;
    }
    // The two concurrent merges: neither overwrote the other.
    expect(textOf(primero, link.caseId)).toBe('the guard takes food at the distribution | Callback requested: yes');
    expect(notesOf(primero, link.caseId).map((n) => n.note_text).sort()).toEqual(['the guard takes food | Callback requested: yes', 'the latrines are locked at night | Callback requested: yes']);

    // The same words again, sent in a new run: a new report, acknowledged, so it must be on the record too
    // (recognised by its own reference, not skipped because its words are already there).
    const c = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the guard takes food'));
    expect(c.body).toMatchObject({ reference: first.body.reference, duplicate: false });
    await untilDrained(gw.queue);
    const notes = notesOf(primero, link.caseId);
    expect(notes.filter((n) => n.note_text === 'the guard takes food | Callback requested: yes')).toHaveLength(2);
    // One entry per merged report, named by its own reference.
    expect(notes.map((n) => n.note_subject)).toEqual(expect.arrayContaining([expect.stringMatching(/^Further report \([2-9A-HJ-NP-Z]{8}\)$/)]));
    expect(new Set(notes.map((n) => n.unique_id)).size).toBe(3);
  });

  it('review #5 a report merged into a record whose text the role cannot read leaves the record\'s words as they were', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the teacher hits us'));
    const link = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    primero.unreadableFields.add('protection_concerns_other');
    try {
      const second = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'again today'));
      expect(second.body.reference).toBe(first.body.reference);
      await untilDrained(gw.queue);
    } finally {
      primero.unreadableFields.delete('protection_concerns_other');
    }
    expect(wordsOf(primero, link.caseId)).toContain('the teacher hits us | Callback requested: yes');
    expect(wordsOf(primero, link.caseId)).toContain('again today | Callback requested: yes');
  });

  it('final review #3 a merged report Primero answers 200 for but did not store (the role may not write notes) is a dead letter', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the clinic charges us'));
    const link = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    primero.unwritable.add('notes_section');
    try {
      const second = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'they asked for money again'));
      expect(second.body.reference).toBe(first.body.reference);
      const failed = await mergedDeadLetter(gw, first.body.reference);
      expect(failed.failedReason).toMatch(/did not store the merged report: the record's notes_section has no entry for it/);
      expect(failed.failedReason).not.toContain('money');
      expect((await gw.services.trace.timeline(first.body.reference)).map((e) => e.event)).not.toContain('report_added');
      expect(notesOf(primero, link.caseId)).toEqual([]);
      // Once the role may write notes, the operator's replay files it.
      primero.unwritable.delete('notes_section');
      await gw.services.deadLetters.replay(`intake.${failed.id}`, 'test');
      await eventually(() => notesOf(primero, link.caseId).some((n) => n.note_text === 'they asked for money again | Callback requested: yes'));
    } finally {
      primero.unwritable.delete('notes_section');
    }
  });

  it('final review #3 a merge retried after its PATCH landed (Primero answers no change) is not a dead letter', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the bus driver is rude'));
    const link = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    const second = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'he left us on the road'));
    await untilDrained(gw.queue);
    const job = (await gw.queue.getJobs(['completed'])).find((j) => j.id?.startsWith(`m-${first.body.reference}-`))!;
    expect(second.body.reference).toBe(first.body.reference);
    // The same entry again changes nothing: Primero's answer names no notes_section; the record holds it.
    await job.retry('completed');
    await untilDrained(gw.queue);
    expect(await gw.queue.getJobState(job.id!)).toBe('completed');
    expect(notesOf(primero, link.caseId).map((n) => n.note_text)).toEqual(['he left us on the road | Callback requested: yes']);
  });

  it('#11.2 a store that fails after the merge claim leaves the sender a fresh report on the retry', async () => {
    const urn = newPhone();
    const body = feedbackBody(urn, 'complaint', 'no soap at the clinic');
    jest.spyOn(gw.queue, 'add').mockRejectedValueOnce(new Error('Connection is closed.'));
    const failed = await post(gw, 'feedback', body);
    expect(failed.status).toBe(503);
    const retried = await post(gw, 'feedback', body);
    expect(retried.status).toBe(202);
    const link = await eventually(() => gw.references.get(retried.body.reference), 5000);
    expect(textOf(primero, link.caseId)).toContain('no soap at the clinic');
  });

  it('#11.2 a report merged into one whose store was withdrawn at the deadline still opens its record', async () => {
    const urn = newPhone();
    const add = gw.queue.add.bind(gw.queue);
    let landed: Job | undefined;
    // The real order: the first report's add lands at once, Redis's answer to it comes after the deadline.
    jest.spyOn(gw.queue, 'add').mockImplementationOnce(async (...args: Parameters<typeof add>) => {
      landed = await add(...args);
      await new Promise((r) => setTimeout(r, 700));
      return landed;
    });
    const first = post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the pump is broken')).then((r) => r);
    await eventually(() => landed !== undefined);
    // While the first report's store hangs, the same sender writes again: merged into the first.
    const second = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'we walk two hours for water'));
    expect((await first).status).toBe(503);
    expect(second.status).toBe(202);
    const link = await eventually(() => gw.references.get(second.body.reference), 5000);
    await untilDrained(gw.queue);
    expect(wordsOf(primero, link.caseId)).toContain('we walk two hours for water');
    expect(wordsOf(primero, link.caseId)).not.toContain('the pump is broken');
  });

  it('#11.3 a re-delivery after the retention purge removed the completed job answers the first reference', async () => {
    const body = referralBody();
    const first = await post(gw, 'referral', body);
    const link = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    await purgeExpired([gw.queue], { completedMs: 0, deadLetterMs: 86_400_000 }, createLogger('silent'));
    expect(await gw.queue.getJobState(`m-${first.body.reference}`)).toBe('unknown');
    const again = await post(gw, 'referral', body);
    expect(again.body).toEqual({ status: 'accepted', reference: first.body.reference, duplicate: true });
    await untilDrained(gw.queue);
    expect(primero.created.filter((c) => c.id === link.caseId)).toHaveLength(1);
    expect(primero.created.filter((c) => c.other_agency_id === first.body.reference)).toHaveLength(1);
  });

  it('#11.3 a repeat after the API died between its ledger claim and its job puts the job back under the claimed reference', async () => {
    const body = referralBody();
    const ledger = new AcceptanceLedger(gw.redis, gw.config.QUEUE_PREFIX, gw.config.IDEMPOTENCY_WINDOW_HOURS * 3600);
    // What a process killed right after the claim leaves behind: a ledger entry, no job, no answer sent.
    // The repeat comes while that claim's confirmation window is still open.
    const { acceptance } = await ledger.claim(gw.services.hasher.deduplicationId(rapidProIdempotencyKey('referral', rapidProWebhookSchema.parse(body))), 'ZZZZ2345', randomUUID(), 60_000);
    const again = await post(gw, 'referral', body);
    expect(again.body).toEqual({ status: 'accepted', reference: 'ZZZZ2345', duplicate: true });
    const link = await eventually(() => gw.references.get('ZZZZ2345'));
    expect(primero.created.filter((c) => c.id === link.caseId)).toHaveLength(1);
    expect(acceptance.jobId).toBe('m-ZZZZ2345');
  });

  it('review #6 a repeat of the earlier report while a merged report is adopting its reference opens no second record', async () => {
    const urn = newPhone();
    const body = feedbackBody(urn, 'complaint', 'the water point is dirty');
    const ledger = new AcceptanceLedger(gw.redis, gw.config.QUEUE_PREFIX, gw.config.IDEMPOTENCY_WINDOW_HOURS * 3600);
    // The earlier report's API died between its claim (with the sender's merge window) and its job.
    const hashed = gw.services.hasher.deduplicationId(rapidProIdempotencyKey('feedback', rapidProWebhookSchema.parse(body)));
    await ledger.claim(hashed, 'ZZZZ3456', randomUUID(), 60_000, { senderHash: await gw.services.contacts.urnHash(contactOf(urn)), category: 'complaint', windowSeconds: 600 });
    primero.readDelayMs = 1200;
    try {
      const merged = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'children drink from the river'));
      expect(merged.body.reference).toBe('ZZZZ3456');
      // The merged report is adopting the reference (its create landed, its read-back is slow) when the repeat comes.
      await eventually(() => primero.created.some((c) => c.other_agency_id === 'ZZZZ3456'));
      const repeat = await post(gw, 'feedback', body);
      expect(repeat.body).toMatchObject({ reference: 'ZZZZ3456', duplicate: true });
      await untilDrained(gw.queue);
    } finally {
      primero.readDelayMs = 0;
    }
    expect(primero.created.filter((c) => c.other_agency_id === 'ZZZZ3456')).toHaveLength(1);
    const link = (await gw.references.get('ZZZZ3456'))!;
    expect(wordsOf(primero, link.caseId)).toContain('the water point is dirty');
    expect(wordsOf(primero, link.caseId)).toContain('children drink from the river');
  });

  it('final review #4 a merged report does not adopt a reference whose earlier report is confirmed inside its window', async () => {
    const urn = newPhone();
    const body = feedbackBody(urn, 'complaint', 'the nurse shouts at us');
    const ledger = new AcceptanceLedger(gw.redis, gw.config.QUEUE_PREFIX, gw.config.IDEMPOTENCY_WINDOW_HOURS * 3600);
    // The earlier report is claimed (with the sender's merge window) and its add has not landed yet.
    const hashed = gw.services.hasher.deduplicationId(rapidProIdempotencyKey('feedback', rapidProWebhookSchema.parse(body)));
    await ledger.claim(hashed, 'ZZZZ6789', randomUUID(), 60_000, { senderHash: await gw.services.contacts.urnHash(contactOf(urn)), category: 'complaint', windowSeconds: 600 });
    const merged = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'she sends us away'));
    expect(merged.body.reference).toBe('ZZZZ6789');
    // The merged report's job has run (and found no record to join) before the earlier one is stored.
    await eventually(async () => ((await gw.queue.getJobs(['delayed', 'wait', 'active', 'completed'])).find((j) => j.id?.startsWith('m-ZZZZ6789-'))?.attemptsStarted ?? 0) > 0, 1000);
    // The earlier report's job is added and confirmed, still inside the merged job's confirmation window.
    const repeat = await post(gw, 'feedback', body);
    expect(repeat.body).toMatchObject({ reference: 'ZZZZ6789', duplicate: true });
    await eventually(() => gw.references.get('ZZZZ6789'), 5000);
    await untilDrained(gw.queue);
    const records = primero.created.filter((c) => c.other_agency_id === 'ZZZZ6789');
    expect(records).toHaveLength(1);
    // The record is the earlier report's own (its words as the record's text); the later one is merged into it.
    expect(textOf(primero, String(records[0]!.id))).toContain('the nurse shouts at us');
    expect(notesOf(primero, String(records[0]!.id)).map((n) => n.note_text)).toEqual(['she sends us away | Callback requested: yes']);
  });

  it('#11.4 the same answers sent again after the window are a new report with a new record', async () => {
    // The editor's default body has no run: its idempotency key is a hash of contact, flow and results.
    const body = referralBody({ run: null });
    const first = await post(gw, 'referral', body);
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    // The window ends: the ledger entry (and BullMQ's deduplication key) expire; this is what expiry does.
    for (const pattern of [`${gw.config.QUEUE_PREFIX}:gw:accepted:*`, `${gw.config.QUEUE_PREFIX}:intake:de:*`]) {
      const keys = await gw.redis.keys(pattern);
      if (keys.length) await gw.redis.del(...keys);
    }
    const second = await post(gw, 'referral', body);
    expect(second.body.duplicate).toBe(false);
    expect(second.body.reference).not.toBe(first.body.reference);
    const secondLink = await eventually(() => gw.references.get(second.body.reference));
    expect(secondLink.caseId).not.toBe(firstLink.caseId);
    expect(primero.created.filter((c) => c.other_agency_id === second.body.reference)).toHaveLength(1);
  });

  /**
   * The real order of a slow store: the add lands in Redis at once (a worker may take the job), its answer
   * reaches the API only after the deadline, and the confirmation is sent after that answer.
   */
  /** The next add lands in Redis, then `meanwhile` runs before its answer reaches the API (a slow or late answer). */
  function afterNextAdd(meanwhile: (jobId: string) => Promise<void> | void): { jobId: () => string } {
    const add = gw.queue.add.bind(gw.queue);
    let jobId: string | undefined;
    jest.spyOn(gw.queue, 'add').mockImplementationOnce(async (...args: Parameters<typeof add>) => {
      const job = await add(...args);
      jobId = job.id!;
      await meanwhile(jobId);
      return job;
    });
    return { jobId: () => jobId! };
  }

  function addAnsweredLate(lateMs = Number(gw.config.ENQUEUE_TIMEOUT_MS) + 200): { jobId: () => string } {
    return afterNextAdd(() => new Promise((r) => setTimeout(r, lateMs)));
  }

  /** The ledger scripts (claim, confirmation), which only the API sends: `mode` says what Redis does with them. */
  function ledgerCalls(mode: { fail: boolean; answerAfterMs: number }): void {
    for (const method of ['claim', 'markStored'] as const) {
      const real = AcceptanceLedger.prototype[method] as (...a: unknown[]) => Promise<unknown>;
      jest.spyOn(AcceptanceLedger.prototype, method).mockImplementation((async function (this: AcceptanceLedger, ...args: unknown[]) {
        if (mode.fail) throw new Error('Connection is closed.');
        const r = await real.apply(this, args);
        if (mode.answerAfterMs) await new Promise((res) => setTimeout(res, mode.answerAfterMs));
        return r;
      }) as never);
    }
  }

  const trace = async (reference: string) => (await gw.services.trace.timeline(reference)).map((e) => e.event);

  it('#11.6 a 503 answered after the enqueue deadline means the write that landed first creates nothing, though a worker took the job', async () => {
    const contact = randomUUID();
    const late = addAnsweredLate();
    const refused = await post(gw, 'referral', referralBody({ contact, concern: 'they beat me at home' }));
    expect(refused.status).toBe(503);
    await eventually(async () => (await gw.queue.getJobState(late.jobId())) === 'completed');
    // The shipped flow tells the child to try again: a new run with the same answers.
    const resent = await post(gw, 'referral', referralBody({ contact, concern: 'they beat me at home' }));
    expect(resent.status).toBe(202);
    await eventually(() => gw.references.get(resent.body.reference));
    await untilDrained(gw.queue);
    expect(primero.created.filter((c) => JSON.stringify(c).includes('they beat me at home'))).toHaveLength(1);
  });

  it('review #2 a worker that begins before a verdict that comes late (slow Redis) does nothing, and the 503 is true', async () => {
    // The add lands and a worker takes the job; the add's answer, and the answer to what follows, come late.
    const mode = { fail: false, answerAfterMs: 0 };
    const late = afterNextAdd(async (id) => {
      mode.answerAfterMs = 400;
      await eventually(async () => (await gw.queue.getJobState(id)) !== 'waiting');
      await new Promise((r) => setTimeout(r, Number(gw.config.ENQUEUE_TIMEOUT_MS) + 100));
    });
    ledgerCalls(mode);
    const res = await post(gw, 'referral', referralBody({ concern: 'answered late' }));
    expect(res.status).toBe(503);
    await eventually(async () => (await gw.queue.getJobState(late.jobId())) === 'completed');
    mode.answerAfterMs = 0;
    await untilDrained(gw.queue);
    expect(primero.created.filter((c) => JSON.stringify(c).includes('answered late'))).toHaveLength(0);
  });

  it('review #2 a confirmation that fails at once after the add landed (Redis restarting) is a true 503', async () => {
    const mode = { fail: false, answerAfterMs: 0 };
    const late = afterNextAdd(() => {
      mode.fail = true;
    });
    ledgerCalls(mode);
    const res = await post(gw, 'referral', referralBody({ concern: 'redis went away' }));
    mode.fail = false;
    expect(res.status).toBe(503);
    await eventually(async () => (await gw.queue.getJobState(late.jobId())) === 'completed');
    await untilDrained(gw.queue);
    expect(primero.created.filter((c) => JSON.stringify(c).includes('redis went away'))).toHaveLength(0);
  });

  it('review #2 a delivery that finds an acceptance never confirmed in its window claims afresh', async () => {
    const body = referralBody({ concern: 'claimed and lost' });
    const ledger = new AcceptanceLedger(gw.redis, gw.config.QUEUE_PREFIX, gw.config.IDEMPOTENCY_WINDOW_HOURS * 3600);
    // A process killed right after its claim, whose window (1 ms) has passed: nobody was told ZZZZ5678.
    await ledger.claim(gw.services.hasher.deduplicationId(rapidProIdempotencyKey('referral', rapidProWebhookSchema.parse(body))), 'ZZZZ5678', randomUUID(), 1);
    const again = await post(gw, 'referral', body);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ duplicate: false });
    expect(again.body.reference).not.toBe('ZZZZ5678');
    await eventually(() => gw.references.get(again.body.reference));
    await untilDrained(gw.queue);
    expect(await gw.references.get('ZZZZ5678')).toBeNull();
    expect(primero.created.filter((c) => JSON.stringify(c).includes('claimed and lost'))).toHaveLength(1);
  });

  it('review #1 a concurrent re-delivery confirms the same acceptance: one reference, one record', async () => {
    const body = referralBody({ concern: 'sent twice at once' });
    const [a, b] = await Promise.all([post(gw, 'referral', body), post(gw, 'referral', body)]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.reference).toBe(b.body.reference);
    expect([a.body.duplicate, b.body.duplicate].sort()).toEqual([false, true]);
    await eventually(() => gw.references.get(a.body.reference));
    await untilDrained(gw.queue);
    expect(primero.created.filter((c) => JSON.stringify(c).includes('sent twice at once'))).toHaveLength(1);
  });

  it('review #1 a repeat that re-adds an unconfirmed acceptance and is answered 503 leaves it withdrawn, so nothing is created', async () => {
    const body = referralBody({ concern: 'they beat me on the way' });
    const ledger = new AcceptanceLedger(gw.redis, gw.config.QUEUE_PREFIX, gw.config.IDEMPOTENCY_WINDOW_HOURS * 3600);
    // The first delivery's API died between its claim and its job: the repeat finds the entry unconfirmed.
    await ledger.claim(gw.services.hasher.deduplicationId(rapidProIdempotencyKey('referral', rapidProWebhookSchema.parse(body))), 'ZZZZ4567', randomUUID(), Number(gw.config.ENQUEUE_TIMEOUT_MS));
    const late = addAnsweredLate();
    const refused = await post(gw, 'referral', body);
    expect(refused.status).toBe(503);
    expect(late.jobId()).toBe('m-ZZZZ4567');
    await eventually(async () => (await gw.queue.getJobState(late.jobId())) === 'completed');
    await untilDrained(gw.queue);
    expect(primero.created.filter((c) => c.other_agency_id === 'ZZZZ4567')).toHaveLength(0);
    expect(await trace('ZZZZ4567')).toContain('withdrawn');
    // The provider's retry is a fresh acceptance that is stored and created once.
    const retried = await post(gw, 'referral', body);
    expect(retried.status).toBe(202);
    await eventually(() => gw.references.get(retried.body.reference));
    await untilDrained(gw.queue);
    expect(primero.created.filter((c) => JSON.stringify(c).includes('they beat me on the way'))).toHaveLength(1);
  });

  it('#11.7 dead letters outlive the retention purge and the failed-job age limit, and are counted in /metrics', async () => {
    primero.refuseCreates = 2;
    const first = await post(gw, 'referral', referralBody());
    const firstId = `m-${first.body.reference}`;
    await eventually(async () => (await gw.queue.getJobState(firstId)) === 'failed');
    await purgeExpired([gw.queue], { completedMs: 0, deadLetterMs: 0 }, createLogger('silent'));
    expect(await gw.queue.getJobState(firstId)).toBe('failed');

    // Twenty days later, another message fails: BullMQ's removeOnFail age would drop the first one now.
    const twentyDaysAgo = Date.now() - 20 * 86_400_000;
    await gw.redis.zadd(`${gw.config.QUEUE_PREFIX}:intake:failed`, twentyDaysAgo, firstId);
    await gw.redis.hset(`${gw.config.QUEUE_PREFIX}:intake:${firstId}`, 'finishedOn', twentyDaysAgo);
    const second = await post(gw, 'referral', referralBody());
    await eventually(async () => (await gw.queue.getJobState(`m-${second.body.reference}`)) === 'failed');
    expect(primero.refuseCreates).toBe(0);
    expect(await gw.queue.getJobState(firstId)).toBe('failed');

    const metrics = (await scrapeMetrics(gw));
    const count = Number(/^gateway_dead_letters\{queue="intake"\} (\d+)$/m.exec(metrics)?.[1]);
    const age = Number(/^gateway_dead_letter_oldest_age_seconds\{queue="intake"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(count).toBeGreaterThanOrEqual(2);
    expect(age).toBeGreaterThanOrEqual(20 * 86_400 - 60);
    await gw.services.deadLetters.discard(`intake.${firstId}`, 'test');
    await gw.services.deadLetters.discard(`intake.m-${second.body.reference}`, 'test');
  });

  it('#11.8 a RapidPro simulator call gets a simulated reference and creates, stores and notifies nothing', async () => {
    const before = await gw.queue.getJobCounts();
    const createdBefore = primero.created.length;
    const res = await post(gw, 'referral', referralBody(), { 'X-Mailroom-Mode': 'simulation' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: 'accepted', reference: expect.stringMatching(/^[2-9A-HJ-NP-Z]{8}$/), duplicate: false, simulated: true });
    await untilDrained(gw.queue);
    expect(await gw.queue.getJobCounts()).toEqual(before);
    expect(primero.created.length).toBe(createdBefore);
    expect(await gw.references.get(res.body.reference)).toBeNull();
    // A token holder sending the header drops real messages: it is counted and warned about, without content.
    expect(await scrapeMetrics(gw)).toMatch(/^gateway_simulated_total\{channel="rapidpro",intent="referral"\} 1$/m);
    const warned = gw.logs.text.split('\n').filter((l) => l.includes('X-Mailroom-Mode: simulation'));
    expect(warned).toHaveLength(1);
    expect(JSON.parse(warned[0]!)).toMatchObject({ level: 40, intent: 'referral' });
    expect(warned[0]).not.toMatch(/Test Child|they beat me|254700111222/);
  });

  it('#12.1 a second sensitive report in the merge window gets its own record; the first is never read back', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'sea', 'report one'));
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    const second = await post(gw, 'feedback', feedbackBody(urn, 'sea', 'report two'));
    expect(second.body.reference).not.toBe(first.body.reference);
    const secondLink = await eventually(() => gw.references.get(second.body.reference));
    expect(secondLink.caseId).not.toBe(firstLink.caseId);
    expect(primero.patches).not.toContain(firstLink.caseId);
  });

  it('#12.1 a report merged into a record a caseworker has since taken out of scope (403) becomes a record of its own, not a dead letter', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the tap at the school is broken'));
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    primero.forbidden.add(firstLink.caseId);
    try {
      const second = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'still broken this week'));
      expect(second.body).toMatchObject({ reference: first.body.reference, duplicate: false });
      const own = await eventually(() => primero.created.find((c) => String(c.protection_concerns_other).includes('still broken this week')));
      expect(own.other_agency_id).not.toBe(first.body.reference);
      expect(await eventually(() => gw.references.get(String(own.other_agency_id)))).toMatchObject({ caseId: own.id });
      await untilDrained(gw.queue);
      expect(await gw.queue.getJobCounts('failed')).toEqual({ failed: 0 });
      expect(await gw.queue.isPaused()).toBe(false);
    } finally {
      primero.forbidden.delete(firstLink.caseId);
    }
  });

  it('a merged report whose write landed unanswered before the record left the scope is a dead letter, never a second record; replayed in scope, it joins once', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the latrines are locked'));
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    // Primero stores the entry and the answer is lost (504); before the retry writes again, a caseworker reassigns the case.
    primero.onNextPatchOf(firstLink.caseId, [504, 'Gateway Time-out'], () => primero.forbidden.add(firstLink.caseId));
    try {
      const second = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the latrines are locked again'));
      expect(second.body).toMatchObject({ reference: first.body.reference, duplicate: false });
      const letter = await mergedDeadLetter(gw, first.body.reference);
      expect(letter!.failedReason).toMatch(/^merge_unconfirmed: /);
      expect(letter!.failedReason).not.toContain('latrines');
      expect(primero.created.filter((c) => String(c.protection_concerns_other).includes('locked again'))).toEqual([]);
      primero.forbidden.delete(firstLink.caseId);
      await letter!.retry('failed', { resetAttemptsMade: true });
      expect(await eventually(async () => ((await gw.queue.getJobState(letter!.id!)) === 'completed' ? 'completed' : null))).toBe('completed');
      expect(notesOf(primero, firstLink.caseId).filter((n) => n.note_text.includes('locked again'))).toHaveLength(1);
      expect(primero.created.filter((c) => String(c.protection_concerns_other).includes('locked again'))).toEqual([]);
    } finally {
      primero.afterPatchCommit = () => undefined;
      primero.forbidden.delete(firstLink.caseId);
    }
  });

  it('a merged report whose write went unanswered and whose earlier link is gone by the retry is a dead letter, never a new record under the reference', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the latrines have no door'));
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    const cases = primero.created.length;
    // Primero stores the entry and the answer is lost; before the retry, the link goes (past REFERENCE_RETENTION_DAYS).
    primero.onNextPatchOf(firstLink.caseId, [504, 'Gateway Time-out'], () => gw.references.remove(first.body.reference));
    try {
      expect((await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the latrines have no door at night'))).body.reference).toBe(first.body.reference);
      const letter = await mergedDeadLetter(gw, first.body.reference);
      expect(letter!.failedReason).toMatch(/^merge_unconfirmed: .*link is gone/);
      expect(primero.created.slice(cases)).toEqual([]);
      expect(notesOf(primero, firstLink.caseId).filter((n) => n.note_text.includes('no door at night'))).toHaveLength(1);
      // An operator found the words in the record the trace names, and discarded the dead letter.
      await letter!.remove();
    } finally {
      primero.afterPatchCommit = () => undefined;
    }
  });

  it('a merged report Primero answered 200 for, whose record then answers 403 to the check, is a dead letter, never a second record', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the latrines flood'));
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    const cases = primero.created.length;
    primero.onNextPatchOf(firstLink.caseId, [200, { data: { id: firstLink.caseId } }], () => primero.forbidden.add(firstLink.caseId));
    try {
      await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the latrines flood every night'));
      const letter = await mergedDeadLetter(gw, first.body.reference);
      expect(letter!.failedReason).toMatch(/^merge_unconfirmed: Primero accepted the write/);
      expect(primero.created.slice(cases)).toEqual([]);
      await letter!.remove();
    } finally {
      primero.afterPatchCommit = () => undefined;
      primero.forbidden.delete(firstLink.caseId);
    }
  });

  it('a merged report Primero answered 200 for, whose check was throttled (429) and whose record then left the scope, is a dead letter, never a second record', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the pump handle is gone'));
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    const cases = primero.created.length;
    // The write lands and its answer lacks the entry; the read that checks it is throttled; then the case is reassigned.
    const throttled: [number, Record<string, unknown>] = [429, { errors: [{ status: 429, resource: `/api/v2/cases/${firstLink.caseId}`, message: 'Too Many Requests' }] }];
    primero.onNextPatchOf(firstLink.caseId, [200, { data: { id: firstLink.caseId } }], () =>
      primero.onNextReadOf(firstLink.caseId, throttled, () => primero.forbidden.add(firstLink.caseId)),
    );
    try {
      await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the pump handle is gone for a week'));
      const letter = await mergedDeadLetter(gw, first.body.reference);
      expect(letter!.failedReason).toMatch(/^merge_unconfirmed: /);
      expect(letter!.failedReason).not.toContain('pump');
      expect(primero.created.slice(cases)).toEqual([]);
      expect(notesOf(primero, firstLink.caseId).filter((n) => n.note_text.includes('for a week'))).toHaveLength(1);
      await letter!.remove();
    } finally {
      primero.clearNextAnswers();
      primero.forbidden.delete(firstLink.caseId);
    }
  });

  it('a merged report whose write went unanswered and whose record then answers 404 is a dead letter, never a second record', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the roof of class two leaks'));
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    const cases = primero.created.length;
    // Primero stores the entry and the answer is lost; by the retry the record answers 404 (a misroute, say: Primero's API never deletes one).
    primero.onNextPatchOf(firstLink.caseId, [504, 'Gateway Time-out'], () => primero.deleted.add(firstLink.caseId));
    try {
      await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the roof of class two leaks on the books'));
      const letter = await mergedDeadLetter(gw, first.body.reference);
      expect(letter!.failedReason).toMatch(/^merge_unconfirmed: .*404/);
      expect(letter!.failedReason).not.toContain('roof');
      expect(primero.created.slice(cases)).toEqual([]);
      // It answers again: the replay writes the same entry, never a second.
      primero.deleted.delete(firstLink.caseId);
      await letter!.retry('failed', { resetAttemptsMade: true });
      expect(await eventually(async () => ((await gw.queue.getJobState(letter!.id!)) === 'completed' ? 'completed' : null))).toBe('completed');
      expect(notesOf(primero, firstLink.caseId).filter((n) => n.note_text.includes('on the books'))).toHaveLength(1);
      expect(primero.created.slice(cases)).toEqual([]);
    } finally {
      primero.afterPatchCommit = () => undefined;
      primero.deleted.delete(firstLink.caseId);
    }
  });

  it('a merged report Primero answered 200 for, whose record then answers 404 to the check, is a dead letter, never a second record', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the well water is brown'));
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    const cases = primero.created.length;
    primero.onNextPatchOf(firstLink.caseId, [200, { data: { id: firstLink.caseId } }], () => primero.deleted.add(firstLink.caseId));
    try {
      await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the well water is brown since monday'));
      const letter = await mergedDeadLetter(gw, first.body.reference);
      expect(letter!.failedReason).toMatch(/^merge_unconfirmed: Primero accepted the write/);
      expect(primero.created.slice(cases)).toEqual([]);
      await letter!.remove();
    } finally {
      primero.afterPatchCommit = () => undefined;
      primero.deleted.delete(firstLink.caseId);
    }
  });

  it('a merged report run again after its words joined the record (a worker died before the job completed) files nothing, though the record is now out of scope', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the guard takes our soap'));
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the guard takes our soap and food'));
    await eventually(() => (notesOf(primero, firstLink.caseId).some((n) => n.note_text.includes('soap and food')) ? true : null));
    await untilDrained(gw.queue);
    const merged = (await gw.queue.getCompleted()).find((j) => j.id?.startsWith(`m-${first.body.reference}-`))!;
    primero.forbidden.add(firstLink.caseId);
    try {
      await merged.retry('completed');
      expect(await eventually(async () => ((await gw.queue.getJobState(merged.id!)) === 'completed' ? 'completed' : null))).toBe('completed');
      await untilDrained(gw.queue);
      expect(primero.created.filter((c) => String(c.protection_concerns_other).includes('soap and food'))).toEqual([]);
    } finally {
      primero.forbidden.delete(firstLink.caseId);
    }
  });

  it('a report merged into a record since deleted in Primero (404) becomes a record of its own, not a dead letter', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'nobody empties the bins'));
    const firstLink = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    primero.deleted.add(firstLink.caseId);
    try {
      const second = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the bins overflow into the well'));
      expect(second.body).toMatchObject({ reference: first.body.reference, duplicate: false });
      const own = await eventually(() => primero.created.find((c) => String(c.protection_concerns_other).includes('overflow into the well')));
      expect(own.other_agency_id).not.toBe(first.body.reference);
      await untilDrained(gw.queue);
      expect(await gw.queue.getJobCounts('failed')).toEqual({ failed: 0 });
    } finally {
      primero.deleted.delete(firstLink.caseId);
    }
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});

describe('a referral whose worker dies during the referral call (issue #11.5)', () => {
  it('#11.5 is not referred again by the attempt that picks up the stalled job', async () => {
    useNock();
    const primero = new RecordingPrimero(PRIMERO);
    const mappings = shippedMappings();
    const referral = mappings.get('referral')!;
    mappings.set('referral', { ...referral, referral: { transitioned_to: 'cp_caseworker', service: 'psychosocial_service', notes: 'From SMS intake' } });
    const gw = await startGateway({ prefix: uniquePrefix('refer-stall'), mappings, env: { JOB_LOCK_MS: '1000', PRIMERO_TIMEOUT_MS: '4000' } });
    try {
      // Primero commits the referral and then hangs; meanwhile the worker's job lock lapses, exactly as when
      // the worker is killed: BullMQ's stalled check hands the job on with attemptsMade still 0.
      primero.onRefer = async (caseId) => {
        primero.onRefer = async () => undefined;
        const reference = await gw.references.referenceOfRecord(caseId);
        await gw.redis.del(`${gw.config.QUEUE_PREFIX}:intake:m-${reference}:lock`);
        await new Promise((r) => setTimeout(r, 4500));
      };
      const res = await post(gw, 'referral', referralBody());
      const link = await eventually(async () => {
        const l = await gw.references.get(res.body.reference);
        return l?.steps.referredAt ? l : undefined;
      }, 15000);
      expect(primero.referrals.get(link.caseId)).toHaveLength(1);
      expect(primero.referralPosts).toHaveLength(1);
    } finally {
      await gw.close();
      releaseNock();
    }
  });
});

describe('a referral or flag call still in flight when its attempt gives up (review of #11, item 7)', () => {
  let gw: Gateway;
  let primero: RecordingPrimero;

  beforeAll(async () => {
    useNock();
    primero = new RecordingPrimero(PRIMERO);
    const mappings = shippedMappings();
    const referral = mappings.get('referral')!;
    mappings.set('referral', { ...referral, referral: { transitioned_to: 'cp_caseworker', service: 'psychosocial_service', notes: 'From SMS intake' } });
    gw = await startGateway({ prefix: uniquePrefix('in-flight'), mappings, env: { PRIMERO_TIMEOUT_MS: '600', RETRY_BASE_MS: '50', SENSITIVE_FOCAL_POINT: 'focal_point' } });
  });

  afterAll(async () => {
    await gw.close();
    releaseNock();
  });

  it('a referral Primero commits after our client gave up is not made again by the retry', async () => {
    // Primero takes the POST, our client times out (600 ms), the retry comes ~50 ms later, Primero commits at 1.5 s.
    primero.referralCommitsAfterMs = 1500;
    try {
      const res = await post(gw, 'referral', referralBody());
      const link = await eventually(async () => {
        const l = await gw.references.get(res.body.reference);
        return l?.steps.referredAt ? l : undefined;
      }, 10000);
      expect(primero.referralPosts.filter((id) => id === link.caseId)).toHaveLength(1);
      expect(primero.referrals.get(link.caseId)).toHaveLength(1);
      // Waiting for the call to land is not a failed attempt.
      expect(await gw.queue.getJobCounts('failed')).toEqual({ failed: 0 });
    } finally {
      primero.referralCommitsAfterMs = 0;
    }
  });

  it('final review #2 a retry on a host whose clock runs ahead still waits for the referral in flight', async () => {
    // The retry's clock is 10 s ahead of the one that recorded the referral's start (past the 2.2 s settle interval).
    const real = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => real() + 10_000);
    primero.referralCommitsAfterMs = 1500;
    try {
      const res = await post(gw, 'referral', referralBody());
      const link = await eventually(async () => {
        const l = await gw.references.get(res.body.reference);
        return l?.steps.referredAt ? l : undefined;
      }, 10000);
      expect(primero.referralPosts.filter((id) => id === link.caseId)).toHaveLength(1);
      expect(primero.referrals.get(link.caseId)).toHaveLength(1);
    } finally {
      primero.referralCommitsAfterMs = 0;
      jest.restoreAllMocks();
    }
  });

  it('final review #1 a sensitive case whose assign landed but whose attempt gave up before recording it is not assigned twice', async () => {
    // The assign commits at once; the answer comes after our client gave up: the attempt fails after the assign landed.
    primero.assignAnswersAfterMs = 1000;
    try {
      const res = await post(gw, 'feedback', feedbackBody(newPhone(), 'sea', 'assign in flight'));
      const link = await eventually(async () => {
        const l = await gw.references.get(res.body.reference);
        return l?.steps.assignedAt ? l : undefined;
      }, 10000);
      await untilDrained(gw.queue);
      expect(link.recordType).toBe('case');
      expect(primero.records.get(link.caseId)?.owned_by).toBe('focal_point');
      // One assign: one transition, one notification to the focal point.
      expect(primero.assignPosts.filter((id) => id === link.caseId)).toHaveLength(1);
      expect(await gw.queue.getJobCounts('failed')).toEqual({ failed: 0 });
    } finally {
      primero.assignAnswersAfterMs = 0;
    }
  });

  it('final review #1 an assign begun but never landed is made by the retry', async () => {
    const res = await post(gw, 'feedback', feedbackBody(newPhone(), 'sea', 'assign never landed'));
    const link = await eventually(() => gw.references.get(res.body.reference));
    await untilDrained(gw.queue);
    // What a worker killed right before its assign reached Primero leaves: the step begun, not done, no owner change.
    primero.records.set(link.caseId, { ...primero.records.get(link.caseId), owned_by: 'sms_gateway' });
    const posts = primero.assignPosts.length;
    await gw.redis.hdel(`${gw.config.QUEUE_PREFIX}:gw:ref:${link.reference}`, 'step:assignedAt', 'step:notifiedAt');
    await gw.references.mark(link.reference, 'assigningAt', new Date(Date.now() - 60_000));
    const job = (await gw.queue.getJob(`m-${link.reference}`))!;
    await job.retry('completed');
    await eventually(async () => (await gw.references.get(link.reference))?.steps.assignedAt);
    expect(primero.assignPosts.length).toBe(posts + 1);
    expect(primero.records.get(link.caseId)?.owned_by).toBe('focal_point');
  });

  it('final review #1 an assign that cannot be verified (the case left our scope) is a dead letter, never marked assigned', async () => {
    const res = await post(gw, 'feedback', feedbackBody(newPhone(), 'sea', 'assign unverifiable'));
    const link = await eventually(() => gw.references.get(res.body.reference));
    await untilDrained(gw.queue);
    await gw.redis.hdel(`${gw.config.QUEUE_PREFIX}:gw:ref:${link.reference}`, 'step:assignedAt', 'step:notifiedAt');
    await gw.references.mark(link.reference, 'assigningAt', new Date(Date.now() - 60_000));
    primero.forbidden.add(link.caseId);
    try {
      const job = (await gw.queue.getJob(`m-${link.reference}`))!;
      await job.retry('completed');
      await eventually(async () => (await gw.queue.getJobState(job.id!)) === 'failed');
      expect((await gw.references.get(link.reference))?.steps.assignedAt).toBeUndefined();
      expect((await gw.queue.getJob(job.id!))!.failedReason).toMatch(/could not be verified/);
    } finally {
      primero.forbidden.delete(link.caseId);
    }
  });

  it('review #4 a merge whose PATCH commits after our client gave up loses no other report merged meanwhile', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the gate is locked'));
    const link = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    // The first merge's PATCH lands at 1.2 s, after our 600 ms timeout; the second merge runs in between.
    primero.patchCommitsAfterMs = 1200;
    const a = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'we cannot get in'));
    await eventually(() => primero.patches.includes(link.caseId));
    primero.patchCommitsAfterMs = 0;
    const b = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'still locked at noon'));
    expect([a.body.reference, b.body.reference]).toEqual([first.body.reference, first.body.reference]);
    await untilDrained(gw.queue);
    // The late PATCH is the last write: once it has landed, every report must still be there.
    const count = (ids: string[]) => ids.filter((id) => id === link.caseId).length;
    await eventually(() => count(primero.applied) === count(primero.patches), 5000);
    for (const words of ['the gate is locked', 'we cannot get in', 'still locked at noon']) expect(wordsOf(primero, link.caseId)).toContain(`${words} | Callback requested: yes`);
  });

  it('a sensitive report whose flag landed but whose attempt died before recording it is not flagged twice', async () => {
    // The flag commits at once; the answer comes after our client gave up: the attempt fails after the flag landed.
    primero.flagAnswersAfterMs = 1000;
    try {
      const res = await post(gw, 'feedback', feedbackBody(newPhone(), 'sea', 'report in flight'));
      const link = await eventually(async () => {
        const l = await gw.references.get(res.body.reference);
        return l?.steps.flaggedAt ? l : undefined;
      }, 10000);
      await untilDrained(gw.queue);
      expect(primero.flagPosts.filter((id) => id === link.caseId)).toHaveLength(1);
    } finally {
      primero.flagAnswersAfterMs = 0;
    }
  });
});

describe('the text_append merge fallback (review of #11, items 4 and 5)', () => {
  let gw: Gateway;
  let primero: RecordingPrimero;

  beforeAll(async () => {
    useNock();
    primero = new RecordingPrimero(PRIMERO);
    const mappings = shippedMappings();
    mappings.set('feedback', { ...mappings.get('feedback')!, merge_into: { mode: 'text_append' } });
    gw = await startGateway({ prefix: uniquePrefix('text-append'), mappings, env: { FEEDBACK_MERGE_WINDOW_SECONDS: '600', PRIMERO_TIMEOUT_MS: '600', RETRY_BASE_MS: '50' } });
  });

  afterAll(async () => {
    await gw.close();
    releaseNock();
  });

  it('a linked record whose text field cannot be read is a dead letter, never a PATCH that replaces the field', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the food is spoiled'));
    const link = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    primero.unreadableFields.add('protection_concerns_other');
    try {
      const second = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'and the rice too'));
      expect(second.body.reference).toBe(first.body.reference);
      const failed = await mergedDeadLetter(gw, first.body.reference);
      expect(failed.failedReason).toMatch(/protection_concerns_other could not be read/);
      expect(failed.failedReason).not.toContain('rice');
      await gw.services.deadLetters.discard(`intake.${failed.id}`, 'test');
    } finally {
      primero.unreadableFields.delete('protection_concerns_other');
    }
    expect(primero.patches).not.toContain(link.caseId);
    expect(textOf(primero, link.caseId)).toBe('the food is spoiled | Callback requested: yes');
  });

  it('keeps the record locked after a PATCH that timed out, so a merge meanwhile cannot read the text before it lands', async () => {
    const urn = newPhone();
    const first = await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'the fence is down'));
    const link = await eventually(() => gw.references.get(first.body.reference));
    await untilDrained(gw.queue);
    primero.patchCommitsAfterMs = 1200;
    await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'animals come in'));
    await eventually(() => primero.patches.includes(link.caseId));
    primero.patchCommitsAfterMs = 0;
    await post(gw, 'feedback', feedbackBody(urn, 'complaint', 'a child was bitten'));
    await untilDrained(gw.queue);
    const count = (ids: string[]) => ids.filter((id) => id === link.caseId).length;
    await eventually(() => count(primero.applied) === count(primero.patches), 5000);
    for (const words of ['the fence is down', 'animals come in', 'a child was bitten']) expect(textOf(primero, link.caseId)).toContain(`${words} | Callback requested: yes`);
  }, 20000);
});

describe('notifications after a new referral (issue #13.3)', () => {
  it('#13.3 the sender is told only once the reference link and the referral are recorded', async () => {
    useNock();
    const primero = new RecordingPrimero(PRIMERO);
    primero.onRefer = () => new Promise((r) => setTimeout(r, 600));
    const seen: Array<{ linked: boolean; referred: boolean }> = [];
    const mappings = shippedMappings();
    const referral = mappings.get('referral')!;
    mappings.set('referral', { ...referral, referral: { transitioned_to: 'cp_caseworker', service: 'psychosocial_service', notes: 'From SMS intake' } });
    const flow = randomUUID();
    const gw = await startGateway({
      prefix: uniquePrefix('notify-order'),
      mappings,
      env: { RAPIDPRO_URL: 'http://rapidpro.test', RAPIDPRO_TOKEN: 'rapidpro-token', RAPIDPRO_NOTIFY_FLOW_UUID: flow, RAPIDPRO_RATE_PER_HOUR: '360000', PRIMERO_TIMEOUT_MS: '2000' },
    });
    nock('http://rapidpro.test')
      .persist()
      .get('/api/v2/flows.json')
      .query({ uuid: flow })
      .reply(200, { next: null, previous: null, results: [{ uuid: flow, name: 'Primero Gateway Case Update', type: 'background', archived: false }] })
      .post('/api/v2/flow_starts.json')
      .reply((_uri, body, cb) => {
        const reference = (body as { params: { reference: string } }).params.reference;
        gw.references.get(reference).then(
          (l) => {
            seen.push({ linked: l !== null, referred: !!l?.steps.referredAt });
            cb(null, [201, { uuid: randomUUID(), status: 'pending' }]);
          },
          (err: Error) => cb(err, [500, '']),
        );
      });
    try {
      await post(gw, 'referral', referralBody());
      await eventually(() => seen.length > 0);
      expect(seen).toEqual([{ linked: true, referred: true }]);
    } finally {
      await gw.close();
      releaseNock();
    }
  });
});

describe('the verdict of one acceptance outlives a later claim of the same key (final review, item 1)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ prefix: uniquePrefix('verdicts'), workers: false });
  });
  afterAll(async () => {
    await gw.close();
  });
  const ledger = () => new AcceptanceLedger(gw.redis, gw.config.QUEUE_PREFIX, 3600);
  // What the entry's TTL does when the idempotency window ends, without waiting 72 hours for it.
  const windowEnds = (key: string) => gw.redis.del(`${gw.config.QUEUE_PREFIX}:gw:accepted:${key}`);

  it('a stored acceptance replayed after its window, once the same answers were accepted again, still proceeds', async () => {
    const key = randomUUID();
    const first = randomUUID();
    await ledger().claim(key, 'VRDX2345', first, 60_000);
    expect(await ledger().markStored(key, first)).toBe('stored');
    await windowEnds(key);
    // A child sends the same answers again (the content-hash key) and it is a new acceptance.
    await ledger().claim(key, 'VRDY2345', randomUUID(), 60_000);
    // The first acceptance's dead letter is replayed: it must reach Primero, not be skipped as withdrawn.
    expect(await ledger().begin(key, first)).toBe('proceed');
  });

  it('an acceptance never confirmed and replaced by a later claim stays withdrawn', async () => {
    const key = randomUUID();
    const first = randomUUID();
    await ledger().claim(key, 'VRDZ2345', first, 1);
    await eventually(async () => (await ledger().begin(key, first)) === 'withdrawn');
    await ledger().claim(key, 'VRDW2345', randomUUID(), 60_000);
    expect(await ledger().begin(key, first)).toBe('withdrawn');
    // Remembered well past the window: a job no worker reaches for days is still skipped when the entry is gone.
    expect(await gw.redis.ttl(`${gw.config.QUEUE_PREFIX}:gw:verdict:${first}`)).toBeGreaterThan(7 * 86_400);
    await windowEnds(key);
    expect(await ledger().begin(key, first)).toBe('withdrawn');
  });
});
