import { asSnapshot, deriveEvents, filledFrom, lookOf, snapshotOf, withDisplayOf, type RecordSnapshot } from '../../src/domain/record-events';
import { safeToContactConfirmed } from '../../src/domain/safe-to-contact-look';

const base: RecordSnapshot = {
  recordId: 'r1',
  recordType: 'case',
  lastUpdatedAt: '2026-01-01T00:00:00Z',
  ownedBy: 'sms_gateway',
  assignedUserNames: [],
  status: 'open',
  workflow: 'new',
  caseIdDisplay: 'cp-1',
  urgent: false,
};
const next = (over: Partial<RecordSnapshot>): RecordSnapshot => ({ ...base, lastUpdatedAt: '2026-01-01T01:00:00Z', ...over });

describe('deriving events from record snapshots', () => {
  it('sees a referral recipient and a new owner as assignments, and the case moving', () => {
    expect(deriveEvents(base, next({ assignedUserNames: ['cp_worker'] }))).toEqual([{ kind: 'assigned', user: 'cp_worker' }]);
    expect(deriveEvents(base, next({ ownedBy: 'cp_lead' }))).toEqual([{ kind: 'assigned', user: 'cp_lead' }, { kind: 'in_progress' }]);
    expect(deriveEvents(base, next({ workflow: 'case_plan' }))).toEqual([{ kind: 'in_progress' }]);
  });

  it('sees closing and reopening', () => {
    expect(deriveEvents(base, next({ status: 'closed' }))).toEqual([{ kind: 'closed' }]);
    expect(deriveEvents({ ...base, status: 'closed' }, next({ status: 'open' }))).toEqual([{ kind: 'reopened' }]);
  });

  it('derives nothing from the same look twice', () => {
    expect(deriveEvents(base, { ...base })).toEqual([]);
  });

  it('on first sight, announces only who is assigned', () => {
    expect(deriveEvents(null, next({ status: 'closed', assignedUserNames: ['a'] }))).toEqual([
      { kind: 'assigned', user: 'sms_gateway' },
      { kind: 'assigned', user: 'a' },
    ]);
  });

  it('keeps only the fields it needs from a webhook body', () => {
    const s = snapshotOf({ record_id: 'x', record_type: 'case', last_updated_at: 't', owned_by: 'u', assigned_user_names: ['u', 3], name_first: 'Amina', risk_level: 'high' });
    expect(s).toEqual({ recordId: 'x', recordType: 'case', lastUpdatedAt: 't', ownedBy: 'u', assignedUserNames: ['u'], status: null, workflow: null, caseIdDisplay: null, urgent: true });
    expect(JSON.stringify(s)).not.toContain('Amina');
    expect(snapshotOf({ record_id: 'x' })).toBeNull();
    // A display id is shown in caseworkers' alerts: a long or odd text is not taken for one.
    expect(snapshotOf({ record_id: 'x', last_updated_at: 't', case_id_display: 'Call me now on +254700000000 '.repeat(10) })!.caseIdDisplay).toBeNull();
    expect(snapshotOf({ record_id: 'x', last_updated_at: 't', case_id_display: 'cp-1a2b3c' })!.caseIdDisplay).toBe('cp-1a2b3c');
  });

  it('names what a webhook body lacks, so it is read before diffing, and takes the display id from an earlier look', () => {
    const partial = lookOf({ record_id: 'x', record_type: 'case', last_updated_at: 't', status: 'open', owned_by: 'u' });
    expect(partial!.missing).toEqual(['assigned_user_names', 'workflow']);
    expect(lookOf({ record_id: 'x', last_updated_at: 't', status: 'open', owned_by: 'u', assigned_user_names: [], workflow: 'new' })!.missing).toBeUndefined();
    // An incident has no workflow in Primero (app/models/incident.rb): a body without one lacks nothing.
    expect(lookOf({ record_id: 'x', record_type: 'incident', last_updated_at: 't', status: 'open', owned_by: 'u', assigned_user_names: [] })!.missing).toBeUndefined();
    expect(lookOf({ record_id: 'x', last_updated_at: 't', status: 'open', owned_by: 'u' }, [], 'incident')!.missing).toEqual(['assigned_user_names']);
    expect(withDisplayOf({ ...base, caseIdDisplay: null }, base).caseIdDisplay).toBe('cp-1');
    expect(withDisplayOf({ ...base, caseIdDisplay: 'cp-2' }, base).caseIdDisplay).toBe('cp-2');
  });
});

describe('what a webhook body says of "safe to contact"', () => {
  const body = { record_id: 'x', last_updated_at: 't', status: 'open', owned_by: 'u', assigned_user_names: [], workflow: 'new', name_first: 'Neema' };

  it('keeps a clear yes or not for each safe field the body carries, nothing for one it lacks, and never stores it', () => {
    expect(lookOf({ ...body, safe_to_contact: false }, ['safe_to_contact'])!.safe).toEqual({ safe_to_contact: false });
    expect(lookOf({ ...body, safe_to_contact: true }, ['safe_to_contact'])!.safe).toEqual({ safe_to_contact: true });
    expect(lookOf({ ...body, safe_to_contact: 'maybe' }, ['safe_to_contact'])!.safe).toEqual({ safe_to_contact: false });
    expect(lookOf(body, ['safe_to_contact'])!.safe).toBeUndefined();
    expect(lookOf({ ...body, safe_to_contact: false })!.safe).toBeUndefined();
    const look = lookOf({ ...body, status: 'closed', safe_to_contact: false }, ['safe_to_contact'])!;
    expect(asSnapshot({ ...look, missing: ['workflow'] })).toEqual(snapshotOf({ ...body, status: 'closed' }));
  });

  it('confirms the answer only when the body carried the field or the gateway\'s own read answered', () => {
    expect(safeToContactConfirmed('lacked', 'refused')).toBe(false);
    expect(safeToContactConfirmed('lacked', null)).toBe(false);
    expect(safeToContactConfirmed('carried', 'refused')).toBe(true);
    expect(safeToContactConfirmed('lacked', 'read')).toBe(true);
    expect(safeToContactConfirmed('not_asked', 'refused')).toBe(true);
  });
});

describe('filling the fields a look lacks', () => {
  const stored = { ...base, assignedUserNames: ['cp_worker'], workflow: 'case_plan' };
  const read = next({ assignedUserNames: [], workflow: null, status: 'closed' });

  it('takes each lacking field from the first source that has it, never as empty', () => {
    const body = { ...next({ workflow: 'service_provision' }), missing: ['assigned_user_names'] };
    expect(filledFrom(read, ['assigned_user_names', 'workflow'], [body, stored])).toMatchObject({ assignedUserNames: ['cp_worker'], workflow: 'service_provision', status: 'closed' });
  });

  it('keeps the look as it is where no source has the field', () => {
    expect(filledFrom(read, ['workflow'], [null])).toEqual(read);
    expect(filledFrom(read, [], [stored])).toEqual(read);
  });
});
