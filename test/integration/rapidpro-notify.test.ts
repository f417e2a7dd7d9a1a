import { randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { startGateway, uniquePrefix, type Gateway, scrapeMetrics, TEST_ADMIN_TOKEN } from '../support/gateway';
import { eventually } from '../support/eventually';
import type { CaseLink } from '../../src/store/references';

const RAPIDPRO = 'http://rapidpro-notify.test';
const FLOW = 'a758539d-c2da-4c70-87f9-6b002084c35f';

type Answer = [number, Record<string, unknown>];
/** `GET /api/v2/flows.json?uuid=` as RapidPro answers it (nyaruka/rapidpro: temba/api/v2/views.py FlowsEndpoint, FlowReadSerializer). */
const flowOfType = (type: string): Answer => [200, { next: null, previous: null, results: [{ uuid: FLOW, name: 'Primero Gateway Case Update', type, archived: false }] }];
const noSuchFlow: Answer = [200, { next: null, previous: null, results: [] }];

/*
 * A notify flow that is not `background` would interrupt the run the person is answering (mailroom starts
 * non-background flows in interrupt mode), and exclude_active would drop the message silently. Either is the
 * operator's to fix: the queue pauses, loudly, and nothing is sent or lost meanwhile.
 */
describe('community notification flow: only a background flow is started', () => {
  const starts: Array<Record<string, unknown>> = [];
  let lookups: Answer[] = [];
  /** How many of the next lookups and starts answer only after the client's timeout (RAPIDPRO_TIMEOUT_MS). */
  const late = { lookups: 0, starts: 0 };
  /** How many of the next starts RapidPro takes while a proxy in front of it answers 504. */
  const proxyGaveUp = { starts: 0 };
  /** How many of the next starts RapidPro's load balancer answers 502 (RapidPro restarting: it never saw them). */
  const restarting = { starts: 0 };
  let lookupCount = 0;

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    nock(RAPIDPRO)
      .persist()
      .get('/api/v2/flows.json')
      .query({ uuid: FLOW })
      .reply((_uri, _body, answer) => {
        lookupCount++;
        answerLate(answer, late.lookups-- > 0, lookups.length > 1 ? lookups.shift()! : lookups[0]!);
      })
      .post('/api/v2/flow_starts.json')
      .reply((_uri, body, answer) => {
        // Recorded as RapidPro takes it: a late answer is a start that happened, unknown to the gateway.
        starts.push(body as Record<string, unknown>);
        if (proxyGaveUp.starts-- > 0) return answer(null, [504, { detail: 'gateway timeout' }]);
        if (restarting.starts-- > 0) return answer(null, [502, { detail: 'bad gateway' }]);
        answerLate(answer, late.starts-- > 0, [201, { uuid: '0f2a7a60-2d8e-4d2b-9f4f-5a4b7c1d9e01', status: 'pending' }]);
      });
  });

  const linkFor = (reference: string, over: Partial<CaseLink> = {}): CaseLink => ({
    reference,
    recordType: 'case',
    caseId: randomUUID(),
    caseIdDisplay: null,
    urn: 'tel:+250788000111',
    contactUuid: null,
    channel: 'rapidpro',
    intent: 'referral',
    sensitive: false,
    createdAt: new Date().toISOString(),
    urgent: false,
    safeToContact: null,
    steps: {},
    ...over,
  });

  afterAll(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  const answerLate = (answer: (err: null, a: Answer) => void, isLate: boolean, a: Answer) => (isLate ? setTimeout(() => answer(null, a), 600) : answer(null, a));

  /** A fresh gateway per case: each process reads the flow's type afresh. */
  async function withGateway(answers: Answer[], run: (gw: Gateway) => Promise<void>): Promise<void> {
    lookups = answers;
    lookupCount = 0;
    starts.length = 0;
    late.lookups = 0;
    late.starts = 0;
    proxyGaveUp.starts = 0;
    restarting.starts = 0;
    const gw = await startGateway({
      prefix: uniquePrefix('rp-notify'),
      env: { RAPIDPRO_URL: RAPIDPRO, RAPIDPRO_TOKEN: 'rapidpro-api-token-2', RAPIDPRO_NOTIFY_FLOW_UUID: FLOW, RAPIDPRO_RATE_PER_HOUR: '360000', RAPIDPRO_TIMEOUT_MS: '300' },
    });
    try {
      await run(gw);
      expect(gw.logs.text).not.toContain('250788000111');
    } finally {
      await gw.close();
    }
  }

  /** A status message for a reference whose record the gateway created (the worker reads its link when it sends). */
  const notify = async (gw: Gateway, reference: string) => {
    await gw.references.saveLink(linkFor(reference));
    return gw.services.notifications.rapidpro!.notify({ urn: 'tel:+250788000111', reference, status: 'received' }, `k-${reference}`);
  };

  it.each([
    ['a message flow', flowOfType('message'), 'flow_not_background', 'is not a background flow'],
    ['no flow at all', noSuchFlow, 'flow_not_found', 'names no flow in this workspace'],
  ])('pauses the queue for %s, sends nothing, and starts the flow once it is fixed', async (_what, wrong, reason, says) =>
    withGateway([wrong as Answer, wrong as Answer, flowOfType('background')], async (gw) => {
      await notify(gw, 'K7M2P9QA');
      // Only the third lookup finds a background flow: nothing was started before it, and the job waited.
      await eventually(() => starts.length === 1, 15000);
      expect(lookupCount).toBe(3);
      expect(starts[0]).toMatchObject({ flow: FLOW, urns: ['tel:+250788000111'], exclude_active: false });
      await eventually(async () => JSON.stringify(await gw.services.trace.timeline('K7M2P9QA')).includes('flow_started'));
      expect(gw.logs.text).toContain(`RAPIDPRO CONFIGURATION FAULT: RAPIDPRO_NOTIFY_FLOW_UUID ${says}`);
      // The counter is written beside the pause, not before the start: read until it is there.
      const counted = new RegExp(`gateway_configuration_faults_total\\{[^}]*reason="${reason}"[^}]*\\} 2`);
      await eventually(async () => counted.test(await scrapeMetrics(gw)), 5000);
    }),
  );

  it('sends no status message planned before the person was said not safe to contact (a retry after a RapidPro outage)', () =>
    withGateway([[503, { detail: 'Service unavailable' }], flowOfType('background')], async (gw) => {
      await notify(gw, 'K7M2P9QS');
      // While the first try waits out RapidPro's 503, a caseworker unticks "safe to contact".
      await gw.references.lowerSafeToContact('K7M2P9QS');
      await eventually(async () => JSON.stringify(await gw.services.trace.timeline('K7M2P9QS')).includes('flow_start_skipped'), 15000);
      expect(starts).toEqual([]);
      // The trace (shown to any operator) says only that it was held back; the exact reason is in a counter naming no one.
      expect(await gw.services.trace.timeline('K7M2P9QS')).toContainEqual(expect.objectContaining({ event: 'flow_start_skipped', detail: { status: 'received', reason: 'held_back' } }));
      expect(JSON.stringify(await gw.services.trace.timeline('K7M2P9QS')) + gw.logs.text).not.toContain('not_safe');
      expect(await scrapeMetrics(gw)).toMatch(/gateway_flow_starts_skipped_total\{[^}]*reason="not_safe"[^}]*\} 1/);
      // BullMQ keeps the job's result in Redis, and the queue dashboard shows it beside the reference.
      // BullMQ writes each result into the queue's events stream (XADD … returnvalue), kept in Redis after the job goes.
      const queue = gw.services.registry.get('rapidpro-notify');
      const results = await eventually(async () => {
        const entries = await gw.redis.xrange(queue.keys.events!, '-', '+');
        const values = entries.map(([, fields]) => fields).filter((f) => f.includes('completed')).map((f) => f[f.indexOf('returnvalue') + 1]);
        return values.length ? values : null;
      });
      expect(results).toEqual([JSON.stringify('skipped-held_back')]);
    }),
  );

  it('retries a lookup that fails with 503, then reads a background flow once for every start', () =>
    withGateway([[503, { detail: 'Service unavailable' }], flowOfType('background')], async (gw) => {
      await notify(gw, 'K7M2P9QC');
      await notify(gw, 'K7M2P9QD');
      await eventually(() => starts.length === 2, 15000);
      expect(lookupCount).toBe(2);
      expect(gw.logs.text).not.toContain('CONFIGURATION FAULT');
    }));

  it('pauses on a lookup refused with 403 (a bad token), as on any RapidPro configuration fault', () =>
    withGateway([[403, { detail: 'Invalid token' }], flowOfType('background')], async (gw) => {
      await notify(gw, 'K7M2P9QE');
      await eventually(() => starts.length === 1, 15000);
      expect(gw.logs.text).toContain("RAPIDPRO CONFIGURATION FAULT: the credentials or the account's role are wrong");
    }));

  /*
   * RapidPro's flow_starts API takes no idempotency key, and its two exclusions cannot stand in for one:
   * restart_participants=false skips anyone in this flow in the last 90 days (every later status of the same case),
   * exclude_active anyone in any flow (nyaruka/rapidpro temba/api/v2/serializers.py FlowStartWriteSerializer;
   * nyaruka/mailroom core/models/start.go Exclusions). A start that timed out may have happened: never repeated.
   */
  it('never starts the flow again after a start that timed out (RapidPro may have started it): a dead letter says so', () =>
    withGateway([flowOfType('background')], async (gw) => {
      late.starts = 1;
      await notify(gw, 'K7M2P9QF');
      const queue = gw.services.registry.get('rapidpro-notify');
      // Settled as a dead letter, or (as before this was fixed) started a second time.
      await eventually(async () => starts.length > 1 || (await queue.getFailedCount()) > 0, 15000, 'the start to settle');
      expect(starts).toHaveLength(1);
      const [failed] = await queue.getFailed();
      expect(failed!.failedReason).toMatch(/not sent again, it may have gone out/);
      // An operator's replay leaves it alone (RapidPro may have started it): only a resend after checking starts it.
      const id = `rapidpro-notify.${failed!.id}`;
      expect((await gw.services.deadLetters.replayIds([id], 'test', {})).notConfirmed).toEqual([id]);
      expect(await (await queue.getJob(failed!.id!))!.isFailed()).toBe(true);
      expect(starts).toHaveLength(1);
      expect(await scrapeMetrics(gw)).toMatch(/gateway_messages_not_confirmed_total\{queue="rapidpro-notify"\} 1/);
      // After checking RapidPro's flow starts: the resend starts it once.
      await gw.services.deadLetters.resend(id, 'test', 'no flow start with this reference');
      await eventually(() => starts.length === 2, 15000, 'the resend');
      await eventually(async () => !(await queue.getJob(failed!.id!)), 15000, 'the resent job to complete');
      expect(starts).toHaveLength(2);
    }));

  it('never starts the flow again after a proxy in front of RapidPro answered 504 (RapidPro may have started it)', () =>
    withGateway([flowOfType('background')], async (gw) => {
      proxyGaveUp.starts = 1;
      await notify(gw, 'K7M2P9QH');
      const queue = gw.services.registry.get('rapidpro-notify');
      await eventually(async () => starts.length > 1 || (await queue.getFailedCount()) > 0, 15000, 'the start to settle');
      expect(starts).toHaveLength(1);
    }));

  it('retries a lookup that timed out: a read started nothing, so the flow is started once', () =>
    withGateway([flowOfType('background')], async (gw) => {
      late.lookups = 1;
      await notify(gw, 'K7M2P9QG');
      await eventually(() => starts.length === 1, 15000);
      expect(lookupCount).toBe(2);
      expect(await gw.services.registry.get('rapidpro-notify').getFailedCount()).toBe(0);
    }));

  it('after a RapidPro restart (its load balancer answered 502), resends the queue\'s "not confirmed" starts in one command, each audited', () =>
    withGateway([flowOfType('background')], async (gw) => {
      restarting.starts = 2;
      await notify(gw, 'K7M2P9QJ');
      await notify(gw, 'K7M2P9QK');
      const queue = gw.services.registry.get('rapidpro-notify');
      await eventually(async () => (await queue.getFailedCount()) === 2, 15000, 'both starts to settle as not confirmed');
      const resend = (body: Record<string, unknown>) => request(gw.app).post('/admin/dead-letters/resend').set('Authorization', `Bearer ${TEST_ADMIN_TOKEN}`).send(body);
      const reason = 'flow_starts shows none with these references';
      expect((await resend({ reason })).status).toBe(422);
      const dry = await resend({ queue: 'rapidpro-notify', reason });
      expect([dry.status, dry.body.dry_run, dry.body.count]).toEqual([200, true, 2]);
      expect(starts).toHaveLength(2);
      const done = await resend({ queue: 'rapidpro-notify', reason, dry_run: false });
      expect(done.body.resent).toHaveLength(2);
      await eventually(async () => starts.length === 4 && (await queue.getFailedCount()) === 0, 15000, 'the resent starts');
      const entries = (await gw.services.audit.recent(20)).filter((e) => e.action === 'dead_letter.resend');
      expect(entries).toHaveLength(2);
    }));
});
