import { planForNewRecord, planForRecordEvents, type PlanContext } from '../../src/domain/notification-plan';

const ctx: PlanContext = { gatewayUser: 'sms_gateway', triageUsers: ['triage1', 'triage2'], sensitiveUsers: ['psea_fp'], notifyCommunity: true };
const record = { recordType: 'case' as const, recordId: 'rec-1', caseIdDisplay: 'cp-9', urgent: false, intent: 'referral' as const, consentGiven: true };
const origin = { reference: 'ABCD2345', urn: 'tel:+250788123123', sensitive: false };

describe('who is told what', () => {
  it('alerts triage about a new referral and tells the sender it was received', () => {
    const plan = planForNewRecord(record, origin, ctx);
    expect(plan.pushes.map((p) => [p.user, p.notice.event])).toEqual([['triage1', 'new_referral'], ['triage2', 'new_referral']]);
    expect(plan.flowStarts).toEqual([{ urn: origin.urn, reference: 'ABCD2345', status: 'received', key: 'rec-1:status:received' }]);
  });

  it('never tells a child who said no, or gave an unclear answer, that a caseworker will contact them; triage still hears of it', () => {
    // The referral flow has already told them the truth: recorded, nobody referred without their consent.
    const plan = planForNewRecord({ ...record, consentGiven: false }, origin, ctx);
    expect(plan.flowStarts).toEqual([]);
    expect(plan.pushes.map((p) => [p.user, p.notice.event])).toEqual([['triage1', 'new_referral'], ['triage2', 'new_referral']]);
  });

  it('tells the sender of feedback it was received: no consent is asked there', () => {
    const plan = planForNewRecord({ ...record, intent: 'feedback', consentGiven: false }, origin, ctx);
    expect(plan.flowStarts.map((f) => f.status)).toEqual(['received']);
  });

  it('alerts only the sensitive users about a sensitive report, and never messages its reporter', () => {
    const plan = planForNewRecord(record, { ...origin, sensitive: true }, ctx);
    expect(plan.pushes.map((p) => [p.user, p.notice.event])).toEqual([['psea_fp', 'new_sensitive_report']]);
    expect(plan.flowStarts).toEqual([]);
    const later = planForRecordEvents([{ kind: 'assigned', user: 'cp_worker' }, { kind: 'assigned', user: 'psea_fp' }, { kind: 'closed' }], record, { ...origin, sensitive: true }, ctx);
    expect(later.pushes.map((p) => p.user)).toEqual(['psea_fp']);
    expect(later.flowStarts).toEqual([]);
  });

  it('never messages a sender who said it is not safe to contact them; an unknown answer is messaged as before', () => {
    const notSafe = { ...origin, safeToContact: false };
    expect(planForNewRecord(record, notSafe, ctx).flowStarts).toEqual([]);
    expect(planForNewRecord(record, notSafe, ctx).pushes.map((p) => p.user)).toEqual(['triage1', 'triage2']);
    expect(planForRecordEvents([{ kind: 'in_progress' }, { kind: 'closed' }], record, notSafe, ctx).flowStarts).toEqual([]);
    for (const known of [true, null]) expect(planForNewRecord(record, { ...origin, safeToContact: known }, ctx).flowStarts.map((f) => f.status)).toEqual(['received']);
  });

  it('alerts newly assigned users but never the gateway itself, and moves the sender through in_progress and closed', () => {
    const plan = planForRecordEvents([{ kind: 'assigned', user: 'sms_gateway' }, { kind: 'assigned', user: 'cp_worker' }, { kind: 'in_progress' }], record, origin, ctx);
    expect(plan.pushes.map((p) => [p.user, p.key])).toEqual([['cp_worker', 'rec-1:assigned:cp_worker']]);
    expect(plan.flowStarts.map((f) => f.status)).toEqual(['in_progress']);
    expect(planForRecordEvents([{ kind: 'closed' }], record, origin, ctx).flowStarts.map((f) => f.status)).toEqual(['closed']);
  });

  it('tells nobody outside Primero about records the gateway did not create', () => {
    expect(planForRecordEvents([{ kind: 'closed' }], record, null, ctx).flowStarts).toEqual([]);
  });
});
