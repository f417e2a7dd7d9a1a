import type { PushNotice } from './push-texts';
import type { RecordEvent, RecordSnapshot } from './record-events';

export type CommunityStatus = 'received' | 'in_progress' | 'closed';

export interface PlannedPush {
  user: string;
  notice: PushNotice;
  /** Record, event and recipient: the same notification is never queued twice. */
  key: string;
}

export interface PlannedFlowStart {
  urn: string;
  reference: string;
  status: CommunityStatus;
  key: string;
}

export interface NotificationPlan {
  pushes: PlannedPush[];
  flowStarts: PlannedFlowStart[];
}

export interface PlanContext {
  /** The gateway's own Primero API user: it owns the cases it creates and is never alerted. */
  gatewayUser: string;
  triageUsers: readonly string[];
  sensitiveUsers: readonly string[];
  /** Whether community members are told about their case through RapidPro at all. */
  notifyCommunity: boolean;
}

/** What the gateway knows of the person behind a record (null for records it did not create). */
export interface RecordOrigin {
  reference: string;
  urn: string | null;
  sensitive: boolean;
  /** The person's safe-to-contact answer as the link keeps it; null or absent: unknown. */
  safeToContact?: boolean | null;
}

type RecordFacts = Pick<RecordSnapshot, 'recordType' | 'recordId' | 'caseIdDisplay' | 'urgent'>;

/** A record just created from a message, and whether its sender agreed to be referred (only a clear yes counts). */
export type NewRecordFacts = RecordFacts & { intent: 'referral' | 'feedback'; consentGiven: boolean };

const notice = (event: PushNotice['event'], r: RecordFacts): PushNotice => ({
  event,
  recordType: r.recordType,
  recordId: r.recordId,
  caseIdDisplay: r.caseIdDisplay,
  urgent: r.urgent,
});

/**
 * Who may be alerted about a record. A sensitive report (PSEA) reaches the configured sensitive users and
 * nobody else, and its reporter is never messaged: an SMS about it could expose a survivor.
 */
function allowedUser(user: string, origin: RecordOrigin | null, ctx: PlanContext): boolean {
  if (user === ctx.gatewayUser) return false;
  return origin?.sensitive ? ctx.sensitiveUsers.includes(user) : true;
}

/**
 * A message to the person about their record. Never after they said someone else may read their messages; an unknown
 * answer (links from before it was kept, mappings without the question) is sent as before.
 */
function flowStart(origin: RecordOrigin | null, recordId: string, status: CommunityStatus, ctx: PlanContext): PlannedFlowStart[] {
  if (!ctx.notifyCommunity || !origin || origin.sensitive || origin.safeToContact === false || !origin.urn) return [];
  return [{ urn: origin.urn, reference: origin.reference, status, key: `${recordId}:status:${status}` }];
}

/**
 * A record the gateway just created from a message: triage is alerted, the sender hears it was received.
 * Not a referral without a clear yes: `received` says a caseworker will contact them, which the referral flow's
 * answer to a no or an unclear reply has just told them is not so (and that answer already gave the reference).
 */
export function planForNewRecord(record: NewRecordFacts, origin: RecordOrigin, ctx: PlanContext): NotificationPlan {
  const users = origin.sensitive ? ctx.sensitiveUsers : ctx.triageUsers;
  const event = origin.sensitive ? 'new_sensitive_report' : 'new_referral';
  const promised = record.intent === 'feedback' || record.consentGiven;
  return {
    pushes: users.filter((u) => u !== ctx.gatewayUser).map((user) => ({ user, notice: notice(event, record), key: `${record.recordId}:${event}:${user}` })),
    flowStarts: promised ? flowStart(origin, record.recordId, 'received', ctx) : [],
  };
}

/** Changes seen on a record (from a webhook or the poller). */
export function planForRecordEvents(events: RecordEvent[], record: RecordFacts, origin: RecordOrigin | null, ctx: PlanContext): NotificationPlan {
  const plan: NotificationPlan = { pushes: [], flowStarts: [] };
  for (const e of events) {
    if (e.kind === 'assigned' && allowedUser(e.user, origin, ctx)) {
      plan.pushes.push({ user: e.user, notice: notice('assigned', record), key: `${record.recordId}:assigned:${e.user}` });
    } else if (e.kind === 'in_progress' || e.kind === 'reopened') plan.flowStarts.push(...flowStart(origin, record.recordId, 'in_progress', ctx));
    else if (e.kind === 'closed') plan.flowStarts.push(...flowStart(origin, record.recordId, 'closed', ctx));
  }
  return plan;
}

/** A message the sender added to their record (a follow-up), and who the record's last look says works on it. */
export interface FollowUpFacts extends RecordFacts {
  sensitive: boolean;
  /** The follow-up's own reference: each message alerts once, and a second message alerts again. */
  own: string;
  ownedBy: string | null;
  assignedUserNames: readonly string[];
}

/**
 * "New message on case …": to the record's assignees and owner (never the gateway's own user), or to triage when
 * nobody works on it yet. A sensitive record's go to the sensitive users only: those among its assignees, else all.
 */
export function planForFollowUp(record: FollowUpFacts, ctx: PlanContext): NotificationPlan {
  const workers = [...new Set([...record.assignedUserNames, ...(record.ownedBy ? [record.ownedBy] : [])])].filter((u) => u !== ctx.gatewayUser);
  const allowed = record.sensitive ? workers.filter((u) => ctx.sensitiveUsers.includes(u)) : workers;
  const fallback = record.sensitive ? ctx.sensitiveUsers : ctx.triageUsers;
  const users = (allowed.length ? allowed : fallback).filter((u) => u !== ctx.gatewayUser);
  return {
    pushes: users.map((user) => ({ user, notice: notice('new_message', record), key: `${record.recordId}:new_message:${record.own}:${user}` })),
    flowStarts: [],
  };
}
