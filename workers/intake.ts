import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { appendToRecord, mergeIntoEarlier } from '../src/cases/merge';
import { protectSensitive, referOnce } from '../src/cases/follow-up-steps';
import { NotYetError, RecordBusyError, type IntakeDeps } from '../src/cases/intake-deps';
import { linkOrCreate, notifyOnce } from '../src/cases/records';
import { addReporterMessage } from '../src/cases/reporter-message';
import { buildCaseRecord, type CaseMapping } from '../src/domain/case-mapping';
import type { InboundMessage } from '../src/domain/inbound-message';
import { inboundMessageSchema } from '../src/channels/inbound-message-schema';
import { uuidV5 } from '../src/domain/uuid';
import { rethrowForQueue } from '../src/queues/failure-policy';
import type { JobData } from '../src/queues/jobs';
import { openJob } from '../src/queues/open-job';

export type { IntakeDeps, SensitiveHandling } from '../src/cases/intake-deps';

function mappingFor(deps: IntakeDeps, message: InboundMessage): CaseMapping {
  const mapping = deps.mappings.get(message.intent);
  if (!mapping) throw new UnrecoverableError(`no mapping is configured for intent "${message.intent}"`);
  return mapping;
}

/**
 * Waits for the acceptance's verdict (the API confirms right after its add, so usually at once; at most until
 * the claim's confirmation window ends, when no verdict means withdrawn). The wait stays inside this attempt:
 * it is short (ENQUEUE_TIMEOUT_MS at most), uses no attempt and keeps the first start the first start.
 */
async function confirmed(deps: IntakeDeps, idempotencyKey: string, acceptanceId: string): Promise<boolean> {
  for (;;) {
    const verdict = await deps.ledger.begin(idempotencyKey, acceptanceId);
    if (verdict !== 'proceed' && verdict !== 'withdrawn') await new Promise((r) => setTimeout(r, Math.min(verdict, 25)));
    else return verdict === 'proceed';
  }
}

async function handle(deps: IntakeDeps, job: Job<JobData<'intake'>>): Promise<void> {
  const parsed = inboundMessageSchema.safeParse(openJob(deps.codec, job));
  if (!parsed.success) throw new UnrecoverableError('the stored message does not match the envelope schema');
  const message = parsed.data;
  // Only a confirmed acceptance is acted on: one withdrawn (its delivery was answered 503) never is.
  if (message.acceptanceId && !(await confirmed(deps, message.idempotencyKey, message.acceptanceId))) {
    await deps.trace.record(message.reference, 'withdrawn', { queue: job.queueName });
    deps.logger.info({ reference: message.reference, jobId: job.id }, 'withdrawn job skipped: its delivery was answered 503');
    return;
  }
  // First start only: a replay (which resets attemptsMade) or a stalled restart must not log arrival twice.
  if (job.attemptsStarted <= 1 && !message.mergeInto) {
    await deps.trace.recordAll(message.reference, [
      { event: 'received', detail: { channel: message.channel, intent: message.intent }, at: new Date(message.receivedAt) },
      { event: 'stored', detail: { queue: job.queueName }, at: new Date(job.timestamp) },
    ]);
  }
  if (message.followUp && message.mergeInto) return addReporterMessage(deps, job, message, (alone) => fileRecord(deps, alone));
  return fileRecord(deps, message, job);
}

/** A message's own record (or, merged, its words added to the earlier report's), with its follow-up steps. */
async function fileRecord(deps: IntakeDeps, message: InboundMessage, job?: Job<JobData<'intake'>>): Promise<void> {
  const mapping = mappingFor(deps, message);
  // One record per acceptance: every attempt of this job names the same record (a retry meets 409), and a
  // new acceptance of the same content (a resend after the window) names a new one.
  const recordId = message.recordId ?? uuidV5(message.acceptanceId ?? message.idempotencyKey);
  const mapped = buildCaseRecord(message, mapping, recordId);

  if (message.mergeInto && job) return mergeIntoEarlier(deps, job, message, mapping, mapped, recordId);

  const link = await linkOrCreate(deps, message.reference, message, mapped, recordId);
  // A report merged into this one opened the record while this job was late: these words join it.
  if (link.caseId !== recordId) return appendToRecord(deps, message, mapping, mapped, link, message.reference);
  if (message.sensitive) await protectSensitive(deps, link);
  else if (mapped.consentGiven && mapping.referral && !link.steps.referredAt) await referOnce(deps, link, mapping);
  await notifyOnce(deps, message, link, mapped.consentGiven);
}

export function intakeProcessor(deps: IntakeDeps) {
  return async (job: Job<JobData<'intake'>>, token?: string): Promise<void> => {
    try {
      await handle(deps, job);
    } catch (err) {
      // Waiting for another merge to finish is not a failed attempt: the job comes back shortly, attempts intact.
      if (err instanceof RecordBusyError && token) {
        await job.moveToDelayed(Date.now() + 100 + Math.floor(Math.random() * 200), token);
        throw new DelayedError();
      }
      if (err instanceof NotYetError && token) {
        deps.logger.info({ jobId: job.id, waitMs: err.waitMs }, err.message);
        // BullMQ promotes delayed jobs on the workers' own clocks: the wait is measured, the deadline is local.
        await job.moveToDelayed(Date.now() + err.waitMs, token);
        throw new DelayedError();
      }
      await rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
    }
  };
}
