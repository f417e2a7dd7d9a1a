import { UnrecoverableError } from 'bullmq';
import type { CaseMapping } from '../domain/case-mapping';
import type { CaseLink } from '../store/references';
import { outOfScope, settledSince, type IntakeDeps } from './intake-deps';

// Fixed texts written to Primero about sensitive reports: they say how to handle the record, never what it holds.
const SENSITIVE_FLAG = 'Sensitive report received through the messaging gateway: restricted handling, focal point only.';
const SENSITIVE_ASSIGN_NOTE = 'Sensitive report received through the messaging gateway.';

/**
 * Referral only once. `attemptsMade` counts finished attempts only (a stalled first attempt leaves it at 0),
 * so Primero's own list is asked on every attempt until the step is recorded as done.
 */
export async function referOnce(deps: IntakeDeps, link: CaseLink, mapping: CaseMapping): Promise<void> {
  const target = mapping.referral!;
  await settledSince(deps, link.steps.referringAt, 'a referral');
  const existing = await deps.primero.listReferrals(link.caseId);
  if (!existing.some((r) => r.transitioned_to === target.transitioned_to && r.status !== 'revoked')) {
    // Written before every call, so the next attempt waits for this one to land before it lists.
    await deps.references.markBegun(link.reference, 'referringAt');
    await deps.primero.refer(link.caseId, target);
    deps.logger.info({ reference: link.reference, caseId: link.caseId }, 'case referred');
  }
  await deps.references.mark(link.reference, 'referredAt');
  await deps.trace.record(link.reference, 'referred', { to: target.transitioned_to });
}

/**
 * Whether an assign begun by an earlier attempt landed, asked once it can no longer be in flight. Primero's
 * Assign makes the recipient the owner at once (app/models/assign.rb); `owned_by` is readable by any role that may
 * read the case (PermittedFieldService::PERMITTED_RECORD_INFORMATION_FIELDS).
 */
async function assignedTo(deps: IntakeDeps, link: CaseLink, focalPoint: string): Promise<boolean> {
  await settledSince(deps, link.steps.assigningAt, 'an assignment');
  try {
    const record = await deps.primero.getRecord('case', link.caseId, ['owned_by']);
    return record.owned_by === focalPoint;
  } catch (err) {
    // Out of the API user's scope: it has another owner, through that assign or someone else's. Marking it
    // assigned could hide a sensitive case the focal point never got; an operator checks its owner in Primero.
    if (outOfScope(err)) {
      await deps.trace.record(link.reference, 'assign_unverified', { to: focalPoint });
      throw new UnrecoverableError("the focal-point assignment could not be verified: the case is out of the API user's scope; check its owner in Primero");
    }
    throw err;
  }
}

export async function protectSensitive(deps: IntakeDeps, link: CaseLink): Promise<void> {
  if (!link.steps.flaggedAt) {
    // A crash between the flag and its mark must not flag twice: Primero's flags say whether it landed.
    await settledSince(deps, link.steps.flaggingAt, 'a flag');
    const flags = await deps.primero.listFlags(link.recordType, link.caseId);
    if (!flags.some((f) => f.message === SENSITIVE_FLAG && !f.removed)) {
      await deps.references.markBegun(link.reference, 'flaggingAt');
      await deps.primero.flag(link.recordType, link.caseId, SENSITIVE_FLAG, new Date().toISOString().slice(0, 10));
    }
    await deps.references.mark(link.reference, 'flaggedAt');
    await deps.trace.record(link.reference, 'flagged_sensitive');
  }
  const focalPoint = deps.sensitive.focalPoint;
  if (focalPoint && link.recordType === 'case' && !link.steps.assignedAt) {
    // A crash between the assign and its mark must not assign (and notify the focal point) twice.
    if (!link.steps.assigningAt || !(await assignedTo(deps, link, focalPoint))) {
      await deps.references.markBegun(link.reference, 'assigningAt');
      await deps.primero.assign(link.caseId, focalPoint, SENSITIVE_ASSIGN_NOTE);
    }
    await deps.references.mark(link.reference, 'assignedAt');
    await deps.trace.record(link.reference, 'assigned', { to: focalPoint });
    deps.logger.info({ reference: link.reference, caseId: link.caseId, sensitive: true }, 'assigned to the focal point');
  }
}
