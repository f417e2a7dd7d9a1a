import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import type { PrimeroClient } from '../src/clients/primero';
import { buildCaseRecord, type CaseMapping } from '../src/domain/case-mapping';
import { inboundMessageSchema, type InboundMessage } from '../src/domain/inbound-message';
import { uuidV5 } from '../src/domain/uuid';
import type { Logger } from '../src/logger';
import type { MappingSet } from '../src/mappings';
import type { ReferenceStore } from '../src/store/references';
import { rethrowForQueue } from './delivery-failure';

export interface IntakeDeps {
  primero: PrimeroClient;
  references: ReferenceStore;
  mappings: MappingSet;
  logger: Logger;
  /** The intake queue itself: Primero-wide conditions (bad credentials, a configuration lock) pause all of it. */
  queue: Queue;
  authFailurePauseMs: number;
}

function mappingFor(deps: IntakeDeps, message: InboundMessage): CaseMapping {
  const mapping = deps.mappings.get(message.intent);
  if (!mapping) throw new UnrecoverableError(`no mapping is configured for intent "${message.intent}"`);
  return mapping;
}

/** Referral only once: after a crash between refer and mark, Primero's own list says whether it happened. */
async function referOnce(deps: IntakeDeps, job: Job, message: InboundMessage, caseId: string, mapping: CaseMapping): Promise<void> {
  const target = mapping.referral!;
  if (job.attemptsMade > 0) {
    const existing = await deps.primero.listReferrals(caseId);
    const done = existing.some((r) => r.transitioned_to === target.transitioned_to && r.status !== 'revoked');
    if (done) {
      await deps.references.markReferred(message.reference, new Date());
      return;
    }
  }
  await deps.primero.refer(caseId, target);
  await deps.references.markReferred(message.reference, new Date());
  deps.logger.info({ reference: message.reference, caseId }, 'case referred');
}

async function handle(deps: IntakeDeps, job: Job): Promise<void> {
  const parsed = inboundMessageSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError('the stored message does not match the envelope schema');
  const message = parsed.data;
  const mapping = mappingFor(deps, message);
  // Deterministic: every attempt, and every re-delivery outside the dedupe window, names the same case.
  const caseId = uuidV5(message.idempotencyKey);
  const { data, consentGiven } = buildCaseRecord(message, mapping, caseId);

  let link = await deps.references.get(message.reference);
  if (!link) {
    const outcome = await deps.primero.createCase(data);
    const caseIdDisplay = await deps.primero.getCaseIdDisplay(caseId);
    link = {
      reference: message.reference,
      caseId,
      caseIdDisplay,
      urn: message.urn,
      channel: message.channel,
      intent: message.intent,
      createdAt: new Date().toISOString(),
      referredAt: null,
    };
    await deps.references.saveLink(link);
    deps.logger.info({ reference: message.reference, caseId, caseIdDisplay, outcome }, 'case created');
  }
  if (consentGiven && mapping.referral && !link.referredAt) await referOnce(deps, job, message, caseId, mapping);
}

export function intakeProcessor(deps: IntakeDeps) {
  return async (job: Job): Promise<void> => {
    try {
      await handle(deps, job);
    } catch (err) {
      await rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
    }
  };
}
