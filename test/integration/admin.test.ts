import { randomUUID } from 'node:crypto';
import nock from 'nock';
import parsePrometheus from 'parse-prometheus-text-format';
import request from 'supertest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createLogger } from '../../src/logger';
import { purgeExpired } from '../../src/queues/retention';
import { LogCapture, startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway, untilGatewayDrained } from '../support/gateway';
import { PRIMERO } from '../support/primero-fake';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';

const ADMIN = 'admin-token-for-tests-1';
const PHONE = '+243810000321';
const WORDS = 'they took my papers and I cannot leave';

function referral(phone = PHONE) {
  return {
    contact: { uuid: randomUUID(), urn: `tel:${phone}` },
    flow: { uuid: randomUUID() },
    run: { uuid: randomUUID() },
    results: { concern: { value: WORDS, category: 'All Responses' }, age: { value: '15', category: 'Valid' } },
  };
}

describe('operating the gateway', () => {
  const PERSONAL_DATA = [WORDS, PHONE.slice(1)];
  let gw: Gateway;
  const admin = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN}`).set('X-Operator', 'it.officer');

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    gw = await startGateway({ prefix: uniquePrefix('admin'), env: { ADMIN_TOKEN: ADMIN } });
  });
  afterEach(() => nock.cleanAll());
  afterAll(async () => {
    await gw.close();
    nock.enableNetConnect();
    // Again after the close, so a `-t` run checks too and lines written during shutdown are read.
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });

  const post = (body: unknown) => request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));

  it('refuses every admin route without the token', async () => {
    for (const [method, path] of [
      ['get', '/admin/dead-letters'],
      ['get', '/admin/dead-letters/intake.m-AAAA2222'],
      ['post', '/admin/dead-letters/intake.m-AAAA2222/replay'],
      ['post', '/admin/dead-letters/replay'],
      ['delete', '/admin/dead-letters/intake.m-AAAA2222'],
      ['get', '/admin/messages/AAAA2222'],
      ['post', '/admin/contacts/forget'],
      ['get', '/admin/audit'],
      ['get', '/admin/queues'],
    ] as const) {
      const res = await request(gw.app)[method](path).set('Authorization', 'Bearer wrong-token-123');
      expect([method, path, res.status]).toEqual([method, path, 401]);
    }
  });

  it('keeps a refused message as a dead letter an operator can inspect masked, reveal (audited), replay once fixed, and trace', async () => {
    nock(PRIMERO).post('/api/v2/cases').reply(422, { errors: [{ status: 422, detail: 'age', message: ['is invalid'] }] });
    const { body } = await post(referral());
    const id = `intake.m-${body.reference}`;
    await eventually(async () => (await gw.queue.getJobState(`m-${body.reference}`)) === 'failed');

    const list = await admin(request(gw.app).get('/admin/dead-letters').query({ queue: 'intake', error: '422' }));
    expect(list.status).toBe(200);
    expect(list.body.dead_letters).toEqual(expect.arrayContaining([expect.objectContaining({ id, reference: body.reference, error: 'Primero rejected the case create (422): age: is invalid', attempts: 1 })]));
    expect((await admin(request(gw.app).get('/admin/dead-letters').query({ error: 'no such error' }))).body.count).toBe(0);

    const masked = await admin(request(gw.app).get(`/admin/dead-letters/${id}`));
    expect(masked.body.data.urn).toBe(`[masked: ${`tel:${PHONE}`.length} characters]`);
    expect(JSON.stringify(masked.body)).not.toContain(WORDS);
    expect(JSON.stringify(masked.body)).not.toContain(PHONE);
    expect((await admin(request(gw.app).get('/admin/audit'))).body.entries.some((e: { action: string }) => e.action === 'dead_letter.reveal')).toBe(false);

    const revealed = await admin(request(gw.app).get(`/admin/dead-letters/${id}`).query({ reveal: 'true' }));
    expect(revealed.body.data.urn).toBe(`tel:${PHONE}`);
    const audit = (await admin(request(gw.app).get('/admin/audit'))).body.entries;
    expect(audit[0]).toMatchObject({ actor: 'it.officer', action: 'dead_letter.reveal', target: id });

    const dry = await admin(request(gw.app).post('/admin/dead-letters/replay').send({ queue: 'intake', error: 'age: is invalid', dry_run: true }));
    expect(dry.body).toMatchObject({ dry_run: true, count: 1 });
    expect(await gw.queue.getJobState(`m-${body.reference}`)).toBe('failed');

    const created: unknown[] = [];
    nock(PRIMERO)
      .post('/api/v2/cases', (b) => {
        created.push(b);
        return true;
      })
      .reply(204)
      .get(/\/api\/v2\/cases\/.+/)
      .reply(200, { data: { case_id_display: 'cp-replayed' } });
    const replay = await admin(request(gw.app).post(`/admin/dead-letters/${id}/replay`));
    expect(replay.status).toBe(202);
    const link = await eventually(() => gw.references.get(body.reference));
    expect(link.caseIdDisplay).toBeNull();
    expect(created).toHaveLength(1);
    expect((await admin(request(gw.app).post(`/admin/dead-letters/${id}/replay`))).status).toBe(404);

    const trace = await admin(request(gw.app).get(`/admin/messages/${body.reference.toLowerCase()}`));
    expect(trace.status).toBe(200);
    expect(trace.body.record).toMatchObject({ type: 'case', case_id_display: null, channel: 'rapidpro' });
    expect(trace.body.timeline.map((e: { event: string }) => e.event)).toEqual(['received', 'stored', 'dead_lettered', 'replayed', 'record_created']);
    expect(JSON.stringify(trace.body)).not.toContain(WORDS);
    expect(JSON.stringify(trace.body)).not.toContain(PHONE);
  });

  it('discards a dead letter, audited', async () => {
    nock(PRIMERO).post('/api/v2/cases').reply(422, { errors: [{ status: 422, detail: 'sex', message: ['is invalid'] }] });
    const { body } = await post(referral());
    await eventually(async () => (await gw.queue.getJobState(`m-${body.reference}`)) === 'failed');
    const id = `intake.m-${body.reference}`;
    expect((await admin(request(gw.app).delete(`/admin/dead-letters/${id}`))).body.status).toBe('discarded');
    expect(await gw.queue.getJob(`m-${body.reference}`)).toBeUndefined();
    expect((await admin(request(gw.app).get('/admin/audit'))).body.entries[0]).toMatchObject({ action: 'dead_letter.discard', target: id });
  });

  it('exposes Prometheus metrics a parser reads, without personal data', async () => {
    await request(gw.app).post('/webhooks/zzmadeupchannel').send({});
    const res = await admin(request(gw.app).get('/metrics'));
    expect(res.status).toBe(200);
    const families = parsePrometheus(res.text);
    const byName = new Map(families.map((f) => [f.name, f]));
    const received = byName.get('gateway_messages_received_total')!;
    expect(received.metrics).toEqual(expect.arrayContaining([expect.objectContaining({ labels: { channel: 'rapidpro', outcome: 'accepted' } })]));
    expect(byName.get('gateway_ack_latency_seconds')!.type).toBe('HISTOGRAM');
    expect(byName.get('gateway_queue_jobs')!.metrics).toEqual(expect.arrayContaining([expect.objectContaining({ labels: { queue: 'intake', state: 'failed' } })]));
    expect(byName.get('gateway_jobs_total')!.metrics).toEqual(expect.arrayContaining([expect.objectContaining({ labels: { queue: 'intake', outcome: 'completed' } })]));
    expect(byName.get('gateway_outbound_calls_total')!.metrics).toEqual(expect.arrayContaining([expect.objectContaining({ labels: { service: 'primero', status: '4xx' } })]));
    expect(res.text).not.toContain(PHONE.slice(1));
    expect(res.text).not.toContain('zzmadeupchannel');
  });

  it('forgets a person: links, traces and jobs go, the opt-out stays', async () => {
    const phone = '+243810000999';
    nock(PRIMERO).post('/api/v2/cases').reply(204).get(/\/api\/v2\/cases\/.+/).reply(200, { data: { case_id_display: 'cp-f' } });
    const first = (await post(referral(phone))).body.reference as string;
    await eventually(() => gw.references.get(first));
    nock(PRIMERO).post('/api/v2/cases').reply(422, { errors: [{ status: 422, detail: 'age', message: ['is invalid'] }] });
    const second = (await post(referral(phone))).body.reference as string;
    await eventually(async () => (await gw.queue.getJobState(`m-${second}`)) === 'failed');
    await gw.services.contacts.optOut(`tel:${phone}`);

    const res = await admin(request(gw.app).post('/admin/contacts/forget').send({ urn: `tel:${phone}` }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ references: [first, second].sort(), jobsActiveSkipped: 0, optOutKept: true });
    expect(res.body.jobsRemoved).toBe(2);
    expect(await gw.references.get(first)).toBeNull();
    expect(await gw.queue.getJob(`m-${second}`)).toBeUndefined();
    expect((await admin(request(gw.app).get(`/admin/messages/${first}`))).status).toBe(404);
    expect(await gw.services.contacts.isOptedOut(`tel:${phone}`)).toBe(true);
    expect((await admin(request(gw.app).post('/admin/contacts/forget').send({ urn: 'not a urn' }))).status).toBe(422);
  });

  it('does the same from the shell: npm run admin -- dead-letters …', async () => {
    nock(PRIMERO).post('/api/v2/cases').reply(422, { errors: [{ status: 422, detail: 'age', message: ['is invalid'] }] });
    const { body } = await post(referral());
    await eventually(async () => (await gw.queue.getJobState(`m-${body.reference}`)) === 'failed');
    const env = { ...process.env, REDIS_URL: gw.config.REDIS_URL, QUEUE_PREFIX: gw.config.QUEUE_PREFIX };
    const run = (...args: string[]) => promisify(execFile)('npx', ['tsx', 'src/cli/admin.ts', ...args], { env, cwd: `${__dirname}/../..` });
    const list = JSON.parse((await run('dead-letters', 'list', '--error', 'age: is invalid')).stdout);
    expect(list.map((d: { reference: string }) => d.reference)).toContain(body.reference);
    const shown = (await run('dead-letters', 'show', `intake.m-${body.reference}`)).stdout;
    expect(shown).toContain('[masked');
    expect(shown).not.toContain(PHONE);
    const dry = JSON.parse((await run('dead-letters', 'replay-matching', '--error', 'age: is invalid', '--actor', 'ops')).stdout);
    expect(dry.dryRun).toBe(true);
    expect(await gw.queue.getJobState(`m-${body.reference}`)).toBe('failed');
    // "2d" is not a number of hours: refused, never read as no age filter (which would replay every dead letter).
    const refused = await run('dead-letters', 'replay-matching', '--min-age-hours', '2d', '--yes', '--actor', 'ops').then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(refused).toMatchObject({ code: 2 });
    expect(refused!.stderr).toContain('--min-age-hours: a number of hours, e.g. 48');
    expect(await gw.queue.getJobState(`m-${body.reference}`)).toBe('failed');
  }, 30000);

  it.each([
    ['a misspelt key', { queu: 'intake' }, '(body)', 'Unrecognized key: "queu"'],
    ['an empty error filter', { error: '' }, 'error', 'an empty error filter matches every dead letter'],
    ['an empty queue', { queue: '' }, 'queue', 'an empty queue name matches every dead letter'],
    ['an age that is not a number', { min_age_hours: '2d' }, 'min_age_hours', 'a number of hours'],
    ['an age of null (an unset shell variable)', { min_age_hours: null }, 'min_age_hours', 'a number of hours'],
    ['an age of true', { min_age_hours: true }, 'min_age_hours', 'a number of hours'],
    ['an age in an array', { min_age_hours: [48] }, 'min_age_hours', 'a number of hours'],
    ['an age in hexadecimal', { min_age_hours: '0x10' }, 'min_age_hours', 'a number of hours'],
  ])('refuses a replay whose filter has %s, and moves nothing back', async (_what, filter, path, problem) => {
    nock(PRIMERO).post('/api/v2/cases').reply(422, { errors: [{ status: 422, detail: 'age', message: ['is invalid'] }] });
    const { body } = await post(referral());
    await eventually(async () => (await gw.queue.getJobState(`m-${body.reference}`)) === 'failed');
    const res = await admin(request(gw.app).post('/admin/dead-letters/replay').send({ ...filter, dry_run: false }));
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'invalid_filter', details: [{ path, problem: expect.stringContaining(problem) }] });
    expect(await gw.queue.getJobState(`m-${body.reference}`)).toBe('failed');
    // The list only reads: a field left empty in its query string is a field not given.
    if (typeof Object.values(filter)[0] === 'string') expect((await admin(request(gw.app).get('/admin/dead-letters').query(filter))).status).toBe(Object.values(filter).includes('') ? 200 : 422);
  });

  it('keeps dead letters through the retention purge whatever their age, and warns once they are overdue', async () => {
    const failed = await gw.queue.getFailed();
    expect(failed.length).toBeGreaterThan(0);
    const quiet = new LogCapture();
    await purgeExpired([gw.queue], { completedMs: 3_600_000, deadLetterMs: 14 * 86_400_000 }, createLogger('info', quiet));
    expect(await gw.queue.getFailedCount()).toBe(failed.length);
    expect(quiet.text).not.toContain('awaiting review');
    // Past DEAD_LETTER_RETENTION_DAYS a dead letter is overdue: reported, never deleted unread (#11.7).
    const overdue = new LogCapture();
    await purgeExpired([gw.queue], { completedMs: 3_600_000, deadLetterMs: 1 }, createLogger('info', overdue), Date.now() + 1000);
    expect(await gw.queue.getFailedCount()).toBe(failed.length);
    expect(overdue.text).toContain('dead letters awaiting review past DEAD_LETTER_RETENTION_DAYS');
  });

  it('never logs the personal data it handled', async () => {
    await untilGatewayDrained(gw);
    expectNoPersonalData(gw.logs.text, PERSONAL_DATA);
  });
});
