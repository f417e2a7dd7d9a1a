import { createdLook } from '../../src/cases/created-look';
import { deriveEvents, snapshotOf, withDisplayOf } from '../../src/domain/record-events';

const deps = { plan: { gatewayUser: 'sms_gateway', triageUsers: [], sensitiveUsers: [], notifyCommunity: true } };
const ID = '0c5e4a52-7d1f-5b7e-9a3c-2f6d8e1b4a90';
// Primero's create webhook for that case (app/models/concerns/webhookable.rb): the record as the webhook role sees it.
const createWebhook = { record_id: ID, record_type: 'case', case_id_display: 'cp-1f17d6a', owned_by: 'sms_gateway', assigned_user_names: [], status: 'open', workflow: 'new', last_updated_at: '2026-12-02T10:00:00.000Z' };

describe('the first look at a record the gateway just created, without reading it back', () => {
  it('is replaced by the create webhook, which announces nothing and brings the display id', () => {
    const mine = createdLook(deps, { recordType: 'case', data: { id: ID, module_id: 'primeromodule-cp', urgent_protection_concern: true } }, ID);
    expect(mine).toMatchObject({ recordId: ID, ownedBy: 'sms_gateway', assignedUserNames: [], status: 'open', workflow: 'new', caseIdDisplay: null, urgent: true });
    const theirs = snapshotOf(createWebhook)!;
    expect(Date.parse(mine.lastUpdatedAt)).toBeLessThan(Date.parse(theirs.lastUpdatedAt));
    expect(deriveEvents(mine, theirs)).toEqual([]);
    expect(withDisplayOf(theirs, mine).caseIdDisplay).toBe('cp-1f17d6a');
    // With no first look, the same webhook would be a first sight announcing the gateway's own user as assigned.
    expect(deriveEvents(null, theirs)).toEqual([{ kind: 'assigned', user: 'sms_gateway' }]);
  });

  it('sees a change Primero made before its first webhook came', () => {
    const mine = createdLook(deps, { recordType: 'case', data: { id: ID } }, ID);
    expect(deriveEvents(mine, snapshotOf({ ...createWebhook, owned_by: 'cp_focal' })!)).toEqual([{ kind: 'assigned', user: 'cp_focal' }, { kind: 'in_progress' }]);
  });
});
