import { isClearYes } from './reporter-notes';

/**
 * Primero sends no event type for referrals or assignments: a webhook (or a poll) only says how a record
 * looks now. The gateway keeps the last look per record and derives what changed. Pure.
 */
export interface RecordSnapshot {
  recordId: string;
  recordType: 'case' | 'incident';
  lastUpdatedAt: string;
  ownedBy: string | null;
  assignedUserNames: string[];
  status: string | null;
  workflow: string | null;
  caseIdDisplay: string | null;
  urgent: boolean;
}

/**
 * A look as it arrived. A webhook body holds only what the webhook role's forms permit, and Primero drops a
 * permitted field that has no value, so `missing` names the fields the diff reads that the body lacked: such a
 * look is completed by reading the record before it is compared with anything. `safe` holds what the body said in
 * each mapping's "safe to contact" field it carried (a clear yes or not): on a record out of the API user's scope
 * it is the only word on that answer. Never stored with the look.
 */
export type RecordLook = RecordSnapshot & { missing?: string[]; safe?: Record<string, boolean> };

/**
 * A stored look. `outOfScope`: the API user was refused (403) the last time it was read: Primero sends webhooks for
 * every case in the module whatever the API user's scope, so such a record is known only by its webhook bodies.
 * `safeUnconfirmed`: this look could not confirm the person's safe-to-contact answer (see safeToContactConfirmed), so
 * nothing the gateway says to the person (a STATUS answer, a follow-up's acknowledgement) names the record until a
 * later look does.
 */
export type StoredSnapshot = RecordSnapshot & { outOfScope?: boolean; safeUnconfirmed?: boolean };

/**
 * What deriveEvents compares; a look lacking any of these cannot be diffed as it is. An incident has no workflow:
 * Primero includes the Workflow concern in Child alone (app/models/child.rb; app/models/incident.rb does not), and
 * PermittedFieldService#permitted_field_names adds `workflow` to the readable fields only for Child
 * (app/services/permitted_field_service.rb), so asking an incident for it would mark every look as lacking a field
 * and cost a read each time. Its owner, assignees and status are the Ownable and Record concerns' (both models).
 */
const DIFF_FIELDS: Record<RecordSnapshot['recordType'], string[]> = {
  case: ['owned_by', 'assigned_user_names', 'status', 'workflow'],
  incident: ['owned_by', 'assigned_user_names', 'status'],
};
// An incident's short id is Record#display_id (app/models/concerns/record.rb); incident_code its own (app/models/incident.rb).
const DISPLAY_FIELDS: Record<RecordSnapshot['recordType'], string[]> = { case: ['case_id_display', 'short_id'], incident: ['short_id', 'incident_code'] };

/**
 * The `fields=` list that reads everything a snapshot needs, ids and update time included. The urgency fields are
 * form fields: Primero returns them only where a form the role reads has them, and drops them silently elsewhere.
 */
export function snapshotFieldNames(type: RecordSnapshot['recordType']): string[] {
  return ['id', 'last_updated_at', ...DIFF_FIELDS[type], ...DISPLAY_FIELDS[type], 'urgent_protection_concern', 'risk_level'];
}

/**
 * The fields the diff reads that `record` (of `type`) does not carry at all. The display id is not among them:
 * Primero never changes it after creation, so an earlier look's is as good.
 */
export function missingSnapshotFields(record: Record<string, unknown>, type: RecordSnapshot['recordType']): string[] {
  return DIFF_FIELDS[type].filter((f) => !(f in record));
}

/**
 * A webhook body (or a poll's row) as a look: its snapshot, what it lacked, and what it said in each of `safeFields`
 * it carried. `fallbackType` is the record's type when the record does not say (an index row does not).
 */
export function lookOf(record: Record<string, unknown>, safeFields: readonly string[] = [], fallbackType: RecordSnapshot['recordType'] = 'case'): RecordLook | null {
  const snapshot = snapshotOf(record, fallbackType);
  if (!snapshot) return null;
  const missing = missingSnapshotFields(record, snapshot.recordType);
  const carried = safeFields.filter((f) => f in record);
  const safe = carried.length ? Object.fromEntries(carried.map((f) => [f, isClearYes(record[f])])) : null;
  return { ...snapshot, ...(missing.length ? { missing } : {}), ...(safe ? { safe } : {}) };
}

/** The look as a snapshot: what the body lacked and what it said of safe to contact are never stored with it. */
export function asSnapshot(look: RecordLook): RecordSnapshot {
  const snapshot = { ...look };
  delete snapshot.missing;
  delete snapshot.safe;
  return snapshot;
}

const FIELD_OF: Record<string, 'ownedBy' | 'assignedUserNames' | 'status' | 'workflow'> = {
  owned_by: 'ownedBy',
  assigned_user_names: 'assignedUserNames',
  status: 'status',
  workflow: 'workflow',
};

/**
 * `look` with each diff field named in `absent` taken from the first of `sources` that has it (a source
 * lists the fields it lacks in its own `missing`; a stored snapshot lacks none). A field no source has
 * stays as `look` has it: with no earlier look there is nothing better than empty.
 */
export function filledFrom(look: RecordSnapshot, absent: string[], sources: Array<RecordLook | null>): RecordSnapshot {
  const filled: RecordSnapshot = { ...look };
  for (const field of absent) {
    const key = FIELD_OF[field];
    const source = key && sources.find((s) => s && !s.missing?.includes(field));
    if (key && source) (filled as unknown as Record<string, unknown>)[key] = source[key];
  }
  return filled;
}

/** A look without a display id takes the earlier look's (immutable in Primero: `UPDATE_FORBIDDEN` fields). */
export function withDisplayOf(snapshot: RecordSnapshot, earlier: RecordSnapshot | null): RecordSnapshot {
  return snapshot.caseIdDisplay === null && earlier?.caseIdDisplay ? { ...snapshot, caseIdDisplay: earlier.caseIdDisplay } : snapshot;
}

export type RecordEvent =
  | { kind: 'assigned'; user: string }
  | { kind: 'in_progress' }
  | { kind: 'closed' }
  | { kind: 'reopened' };

const CLOSED = 'closed';

/**
 * - a user newly in `assigned_user_names` or newly the owner: assigned (referrals add the recipient there);
 * - the case leaving workflow "new" (a referral accepted, a plan made) or getting a new owner: in progress;
 * - status becoming closed: closed; closed becoming open: reopened.
 * With no earlier snapshot (first sight), only assignments are derived, so a gateway starting against an
 * existing Primero does not announce every open case as new.
 */
export function deriveEvents(before: RecordSnapshot | null, after: RecordSnapshot): RecordEvent[] {
  const events: RecordEvent[] = [];
  const knownUsers = new Set(before ? [...before.assignedUserNames, ...(before.ownedBy ? [before.ownedBy] : [])] : []);
  const nowUsers = [...new Set([...(after.ownedBy ? [after.ownedBy] : []), ...after.assignedUserNames])];
  for (const user of nowUsers) if (!knownUsers.has(user)) events.push({ kind: 'assigned', user });
  if (!before) return events;
  if (after.status === CLOSED && before.status !== CLOSED) events.push({ kind: 'closed' });
  else if (before.status === CLOSED && after.status !== CLOSED) events.push({ kind: 'reopened' });
  else if (after.status !== CLOSED) {
    const leftNew = before.workflow === 'new' && after.workflow !== null && after.workflow !== 'new';
    const newOwner = before.ownedBy !== null && after.ownedBy !== null && before.ownedBy !== after.ownedBy;
    if (leftNew || newOwner) events.push({ kind: 'in_progress' });
  }
  return events;
}

/** What a display id looks like (Primero's short ids, codes a configuration builds): anything else is not shown in an alert. */
const DISPLAY_ID = /^[A-Za-z0-9][\w./-]{0,63}$/;

export const looksLikeDisplayId = (v: unknown): v is string => typeof v === 'string' && DISPLAY_ID.test(v);

/** The short id caseworkers see: `case_id_display` for cases, `short_id` (or `incident_code`) for incidents. */
export function displayIdOf(record: Record<string, unknown>, type: 'case' | 'incident'): string | null {
  const candidates = type === 'case' ? [record.case_id_display, record.short_id] : [record.short_id, record.incident_code];
  return candidates.find(looksLikeDisplayId) ?? null;
}

/** Picks the fields the gateway keeps from a Primero record (webhook body or API read); nothing personal. */
export function snapshotOf(record: Record<string, unknown>, fallbackType: 'case' | 'incident' = 'case'): RecordSnapshot | null {
  const id = record.record_id ?? record.id;
  const updated = record.last_updated_at;
  if (typeof id !== 'string' || typeof updated !== 'string') return null;
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  const type = record.record_type === 'incident' ? 'incident' : record.record_type === 'case' ? 'case' : fallbackType;
  const urgentFlag = record.urgent_protection_concern;
  return {
    recordId: id,
    recordType: type,
    lastUpdatedAt: updated,
    ownedBy: str(record.owned_by),
    assignedUserNames: Array.isArray(record.assigned_user_names) ? record.assigned_user_names.filter((u): u is string => typeof u === 'string') : [],
    status: str(record.status),
    workflow: str(record.workflow),
    caseIdDisplay: displayIdOf(record, type),
    urgent: urgentFlag === true || urgentFlag === 'true' || urgentFlag === 'yes' || record.risk_level === 'high',
  };
}
