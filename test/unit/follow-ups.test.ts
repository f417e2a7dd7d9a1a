import { parseRapidProMessage } from '../../src/channels/rapidpro/parse';
import { followUpDecision, followUpTarget } from '../../src/domain/follow-up-target';
import { planForFollowUp, type PlanContext } from '../../src/domain/notification-plan';
import path from 'node:path';
import { pushPayload } from '../../src/domain/push-texts';
import type { SenderRecord } from '../../src/domain/sender-records';
import { loadPushTexts } from '../../src/push-texts-file';

const NOW = new Date('2026-12-01T12:00:00Z');
const rules = { windowDays: 30, gatewayUser: 'sms_gateway' };
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000).toISOString();
const record = (reference: string, createdDaysAgo: number, over: Partial<SenderRecord> = {}): SenderRecord => ({
  reference, recordType: 'case', recordId: `id-${reference}`, caseIdDisplay: null, intent: 'referral', sensitive: false, createdAt: daysAgo(createdDaysAgo), snapshot: null, ...over,
});
const closed = { status: 'closed', workflow: 'closed', ownedBy: 'cp_worker', assignedUserNames: [] };

describe('which record a message without a keyword continues', () => {
  it('is the newest open record within the window', () => {
    expect(followUpTarget([record('AAAA2222', 10), record('BBBB3333', 2)], null, NOW, rules)?.reference).toBe('BBBB3333');
  });

  it("is the sender's own record the text names, and never one that is not theirs", () => {
    const own = [record('AAAA2222', 10), record('BBBB3333', 2)];
    expect(followUpTarget(own, 'AAAA2222', NOW, rules)?.reference).toBe('AAAA2222');
    expect(followUpTarget(own, 'ZZZZ9999', NOW, rules)?.reference).toBe('BBBB3333');
    expect(followUpTarget([], 'ZZZZ9999', NOW, rules)).toBeNull();
  });

  it('skips closed records and records older than the window; none left means a referral', () => {
    expect(followUpTarget([record('AAAA2222', 31), record('BBBB3333', 1, { snapshot: closed })], null, NOW, rules)).toBeNull();
    expect(followUpTarget([record('AAAA2222', 31)], 'AAAA2222', NOW, rules)).toBeNull();
  });

  it('is never anything when FOLLOW_UP_WINDOW_DAYS is 0', () => {
    expect(followUpTarget([record('AAAA2222', 0)], null, NOW, { ...rules, windowDays: 0 })).toBeNull();
  });
});

describe('a sensitive record and a named record that cannot be joined', () => {
  const psea = (reference: string, days: number, over: Partial<SenderRecord> = {}) => record(reference, days, { sensitive: true, ...over });

  it('joins a sensitive record only when the message names it', () => {
    expect(followUpDecision([psea('SSSS2222', 1)], 'SSSS2222', NOW, rules)).toEqual({ target: expect.objectContaining({ reference: 'SSSS2222' }), sensitive: true, silent: false });
    expect(followUpDecision([psea('SSSS2222', 1)], null, NOW, rules)).toEqual({ target: null, sensitive: true });
    expect(followUpDecision([psea('SSSS2222', 1)], 'ZZZZ9999', NOW, rules)).toEqual({ target: null, sensitive: true });
  });

  it('never passes a newer sensitive record over for an older ordinary one: a sensitive report of its own', () => {
    expect(followUpDecision([record('AAAA2222', 5), psea('SSSS2222', 1)], null, NOW, rules)).toEqual({ target: null, sensitive: true });
  });

  it('joins the newest open record when it is an ordinary one, an older sensitive one beside it', () => {
    expect(followUpDecision([record('AAAA2222', 1), psea('SSSS2222', 5)], null, NOW, rules)).toEqual({ target: expect.objectContaining({ reference: 'AAAA2222' }), sensitive: false, silent: false });
  });

  it('joins a record whose reporter said messages to this phone are not safe silently (no acknowledgement goes there), named or not, never an older case instead', () => {
    const unsafe = record('NSAF2222', 1, { safeToContact: false });
    expect(followUpDecision([record('AAAA2222', 5), unsafe], null, NOW, rules)).toEqual({ target: expect.objectContaining({ reference: 'NSAF2222' }), sensitive: false, silent: true });
    expect(followUpDecision([record('AAAA2222', 5), unsafe], 'NSAF2222', NOW, rules)).toEqual({ target: expect.objectContaining({ reference: 'NSAF2222' }), sensitive: false, silent: true });
    expect(followUpDecision([record('AAAA2222', 5), unsafe], 'AAAA2222', NOW, rules)).toEqual({ target: expect.objectContaining({ reference: 'AAAA2222' }), sensitive: false, silent: false });
  });

  it('joins a record whose last look could not confirm the safe-to-contact answer silently, named or not', () => {
    const unconfirmed = record('UNCF2222', 1, { safeToContact: true, safeUnconfirmed: true });
    expect(followUpDecision([record('AAAA2222', 5), unconfirmed], null, NOW, rules)).toEqual({ target: expect.objectContaining({ reference: 'UNCF2222' }), sensitive: false, silent: true });
    expect(followUpDecision([record('AAAA2222', 5), unconfirmed], 'UNCF2222', NOW, rules)).toEqual({ target: expect.objectContaining({ reference: 'UNCF2222' }), sensitive: false, silent: true });
  });

  it('never swaps a named closed or too old record for another open one: a report of its own, as sensitive as the one named', () => {
    const own = [record('AAAA2222', 1), record('BBBB3333', 3, { snapshot: closed }), psea('SSSS2222', 40)];
    expect(followUpDecision(own, 'BBBB3333', NOW, rules)).toEqual({ target: null, sensitive: false });
    expect(followUpDecision(own, 'SSSS2222', NOW, rules)).toEqual({ target: null, sensitive: true });
  });

  it('is an ordinary referral when the only sensitive records are closed or old', () => {
    expect(followUpDecision([psea('SSSS2222', 40), psea('TTTT2222', 1, { snapshot: closed })], null, NOW, rules)).toEqual({ target: null, sensitive: false });
  });
});

describe('who hears of a new message on a case', () => {
  const ctx: PlanContext = { gatewayUser: 'sms_gateway', triageUsers: ['triage1'], sensitiveUsers: ['psea_fp'], notifyCommunity: true };
  const facts = { recordType: 'case' as const, recordId: 'rec-1', caseIdDisplay: 'cp-9', urgent: false, sensitive: false, own: 'OWNR2345', ownedBy: 'sms_gateway', assignedUserNames: [] as string[] };
  const users = (p: ReturnType<typeof planForFollowUp>) => p.pushes.map((x) => x.user);

  it('its assignees and owner, never the gateway, each once per message', () => {
    const plan = planForFollowUp({ ...facts, ownedBy: 'cp_owner', assignedUserNames: ['cp_worker', 'sms_gateway', 'cp_owner'] }, ctx);
    expect(users(plan)).toEqual(['cp_worker', 'cp_owner']);
    expect(plan.pushes.map((p) => [p.notice.event, p.key])).toEqual([['new_message', 'rec-1:new_message:OWNR2345:cp_worker'], ['new_message', 'rec-1:new_message:OWNR2345:cp_owner']]);
    expect(plan.flowStarts).toEqual([]);
  });

  it('triage, when nobody but the gateway works on it', () => {
    expect(users(planForFollowUp(facts, ctx))).toEqual(['triage1']);
  });

  it('on a sensitive record, only sensitive users: those assigned, else all of them; never triage', () => {
    expect(users(planForFollowUp({ ...facts, sensitive: true, assignedUserNames: ['cp_worker'] }, ctx))).toEqual(['psea_fp']);
    expect(users(planForFollowUp({ ...facts, sensitive: true, ownedBy: 'psea_fp' }, { ...ctx, sensitiveUsers: ['psea_fp', 'psea_2'] }))).toEqual(['psea_fp']);
  });

  it('shows the case display id in every shipped language, nothing else', () => {
    const texts = loadPushTexts(path.join(__dirname, '..', '..', 'flows', 'push-texts.json'));
    for (const language of Object.keys(texts.languages)) {
      const shown = JSON.parse(pushPayload({ event: 'new_message', recordType: 'case', recordId: 'a1b2c3d4-0000-4000-8000-000000000000', caseIdDisplay: 'cp-9', urgent: false }, language, texts, 'https://primero.example')) as { body: string };
      expect(shown.body).toContain('cp-9');
      expect(shown.body).not.toContain('{case}');
    }
  });
});

describe('POST /webhooks/rapidpro/message bodies', () => {
  const contact = { uuid: '0e5a3c9b-2c7e-4a44-9d8f-3b7c1a2e4f60', urn: 'tel:+250788123123' };
  const flow = { uuid: '7a1b6e0c-6b5d-4f1e-8a3c-2d9e4f6a7b81' };
  const parse = (body: object) => parseRapidProMessage({ body: Buffer.from(JSON.stringify(body)), headers: {}, query: {}, pathParams: {}, now: NOW });
  const message = (body: object) => {
    const r = parse(body);
    if (!r.ok) throw new Error(`refused: ${r.rejection.code}`);
    return r.value.messages[0];
  };

  it('reads the words from the result "message", or from the input the flow added (a string or the resthook object)', () => {
    expect(message({ contact, flow, results: { message: { value: ' it happened again ', category: 'All Responses' } } })).toMatchObject({ text: 'it happened again', results: {}, intent: 'referral', channel: 'rapidpro' });
    expect(message({ contact, flow, input: 'it happened again', results: {} }).text).toBe('it happened again');
    expect(message({ contact, flow, input: { uuid: '1e5a3c9b-2c7e-4a44-9d8f-3b7c1a2e4f60', text: 'again' }, results: {} })).toMatchObject({ text: 'again', idempotencyKey: 'rapidpro:message:input:1e5a3c9b-2c7e-4a44-9d8f-3b7c1a2e4f60' });
  });

  it('tells two different messages of one run apart even without ids', () => {
    expect(message({ contact, flow, input: 'one', results: {} }).idempotencyKey).not.toBe(message({ contact, flow, input: 'two', results: {} }).idempotencyKey);
  });

  it('refuses a body with no words', () => {
    const r = parse({ contact, flow, results: { message: { value: '  ', category: '' } } });
    expect(r.ok ? null : [r.rejection.status, r.rejection.code]).toEqual([422, 'no_message']);
  });
});
