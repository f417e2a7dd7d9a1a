import type { MappedCase } from '../domain/case-mapping';
import type { InboundMessage } from '../domain/inbound-message';
import { planForNewRecord } from '../domain/notification-plan';
import { createdLook } from './created-look';
import type { CaseLink } from '../store/references';
import { RecordBusyError, type IntakeDeps } from './intake-deps';

/** Records the gateway created in Primero (not merges, not withdrawn jobs), by record type, across every worker. */
export const RECORDS_CREATED_COUNTER = 'gateway_records_created_total';

/** The answer the record is created with: a boolean only when the mapping has the field and wrote it. */
function safeToContactOf(deps: IntakeDeps, message: InboundMessage, mapped: MappedCase): boolean | null {
  const field = deps.mappings.get(message.intent)?.safe_to_contact_field;
  const value = field ? mapped.data[field] : undefined;
  return typeof value === 'boolean' ? value : null;
}

export async function createRecord(deps: IntakeDeps, message: InboundMessage, mapped: MappedCase, recordId: string): Promise<CaseLink> {
  if (message.sensitive && deps.sensitive.moduleId) mapped.data.module_id = deps.sensitive.moduleId;
  const outcome = await deps.primero.createRecord(mapped.recordType, mapped.data);
  // One request: Primero answers a create with a client-chosen id 204, empty (primeroIMS/primero app/controllers/
  // api/v2/concerns/record.rb, `create`), and the display id cannot be derived (short_id ends a fresh
  // `unique_identifier`, app/models/concerns/record.rb; child.rb adds the settings' code). It is read where it is
  // shown (src/cases/display-ids.ts), or comes with the record's next webhook or poll.
  const snapshot = createdLook(deps, mapped, recordId);
  const link: CaseLink = {
    reference: message.reference,
    recordType: mapped.recordType,
    caseId: recordId,
    caseIdDisplay: null,
    urn: message.urn,
    contactUuid: message.contactUuid?.toLowerCase() ?? null,
    channel: message.channel,
    intent: message.intent,
    sensitive: message.sensitive,
    createdAt: new Date().toISOString(),
    urgent: snapshot.urgent,
    safeToContact: safeToContactOf(deps, message, mapped),
    steps: {},
  };
  // By URN and by RapidPro contact UUID: "forget" can then find a person known only by the latter. Before the link:
  // a retry after a crash between the two finds the link and stops, and a sender's reference never indexed would be
  // invisible to STATUS, follow-ups and forget. An index entry whose link never comes resolves to nothing.
  // The first look is the gateway's own (see createdLook). The two writes are independent and a retry repeats both
  // harmlessly, so they go together.
  const identities = [message.urn, message.contactUuid?.toLowerCase()].filter((who): who is string => Boolean(who));
  await Promise.all([deps.snapshots.swap(snapshot), deps.contacts.indexReference(identities, message.reference, deps.referenceRetentionDays)]);
  // Another job linked this reference first (its lock lapsed): that record is the one the sender was told of.
  const prior = await deps.references.saveLink(link, deps.counters.locate(RECORDS_CREATED_COUNTER, { record_type: mapped.recordType }));
  if (prior) return prior;
  await deps.trace.record(message.reference, 'record_created', { recordType: mapped.recordType, recordId, outcome });
  deps.logger.info({ reference: message.reference, caseId: recordId, outcome, sensitive: message.sensitive }, 'record created');
  return link;
}

/**
 * The record a reference names, created if it has none: one job at a time per reference, so the earlier
 * message's own job and a report adopting its reference cannot both create one.
 */
export async function linkOrCreate(deps: IntakeDeps, reference: string, message: InboundMessage, mapped: MappedCase, recordId: string): Promise<CaseLink> {
  const token = await deps.locks.acquire(`reference-${reference}`, deps.mergeLockMs);
  if (!token) throw new RecordBusyError('another report is opening this reference');
  try {
    return (await deps.references.get(reference)) ?? (await createRecord(deps, message, mapped, recordId));
  } finally {
    await deps.locks.release(`reference-${reference}`, token);
  }
}

/** After the link and the follow-up steps are recorded: a notification never names a step not yet taken. */
export async function notifyOnce(deps: IntakeDeps, message: InboundMessage, link: CaseLink, consentGiven: boolean): Promise<void> {
  if (link.steps.notifiedAt) return;
  const facts = { recordType: link.recordType, recordId: link.caseId, caseIdDisplay: link.caseIdDisplay, urgent: link.urgent ?? false, intent: message.intent, consentGiven };
  // A retry after a crash here dispatches again; the notification keys dedupe.
  await deps.dispatcher.dispatch(planForNewRecord(facts, { reference: message.reference, urn: message.urn, sensitive: message.sensitive, safeToContact: link.safeToContact ?? null }, deps.plan), message.reference);
  await deps.references.mark(link.reference, 'notifiedAt');
}
