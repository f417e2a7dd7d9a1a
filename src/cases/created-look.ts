import type { MappedCase } from '../domain/case-mapping';
import { snapshotOf, type RecordSnapshot } from '../domain/record-events';
import type { IntakeDeps } from './intake-deps';

/**
 * Older than any look Primero gives: the record's own create webhook (or poll) replaces the gateway's guess, whatever
 * the two clocks say, and fills in the display id.
 */
export const CREATED_LOOK_UPDATED_AT = new Date(0).toISOString();

// What the gateway sent that a snapshot keeps (the rest of the record is never stored here).
const SENT_FIELDS = ['owned_by', 'assigned_user_names', 'status', 'workflow', 'urgent_protection_concern', 'risk_level'];

/**
 * The first look at a record the gateway just created, built from what it sent and what Primero sets on a create:
 * the API user owns it, nobody else is assigned, it is open and in workflow "new" (app/models/concerns/record.rb and
 * workflow.rb; the fields the mapping wrote win). With no look at all, the create webhook would be a first sight
 * and announce the owner as assigned; with this one it changes nothing unless Primero already changed the record.
 */
export function createdLook(deps: Pick<IntakeDeps, 'plan'>, mapped: Pick<MappedCase, 'recordType' | 'data'>, recordId: string): RecordSnapshot {
  const sent = Object.fromEntries(SENT_FIELDS.filter((f) => f in mapped.data).map((f) => [f, mapped.data[f]]));
  const known = { owned_by: deps.plan.gatewayUser, assigned_user_names: [], status: 'open', workflow: 'new', ...sent };
  return snapshotOf({ ...known, id: recordId, record_type: mapped.recordType, last_updated_at: CREATED_LOOK_UPDATED_AT }, mapped.recordType)!;
}
