import type { Queue } from 'bullmq';
import { intakeJobId } from '../queues/jobs';
import type { CaseLink, ReferenceStore } from '../store/references';
import type { TraceEvent, TraceStore } from '../store/trace';

export interface MessageTrace {
  reference: string;
  record: { type: CaseLink['recordType']; id: string; case_id_display: string | null; channel: string; intent: string; sensitive: boolean; steps: CaseLink['steps'] } | null;
  job: { state: string; attempts: number; error: string | null } | null;
  timeline: TraceEvent[];
}

export interface MessageTraceSources {
  references: ReferenceStore;
  trace: TraceStore;
  intakeQueue: Queue;
}

/**
 * What the gateway knows about one (normalised) reference: its record link, its intake job and its timeline;
 * null when nothing is known (or it was forgotten). One lookup for GET /admin/messages/:reference and the console.
 */
export async function traceMessage(sources: MessageTraceSources, reference: string): Promise<MessageTrace | null> {
  const [link, timeline, job] = await Promise.all([sources.references.get(reference), sources.trace.timeline(reference), sources.intakeQueue.getJob(intakeJobId.of(reference))]);
  if (!link && timeline.length === 0 && !job) return null;
  return {
    reference,
    record: link ? { type: link.recordType, id: link.caseId, case_id_display: link.caseIdDisplay, channel: link.channel, intent: link.intent, sensitive: link.sensitive, steps: link.steps } : null,
    job: job ? { state: await job.getState(), attempts: job.attemptsMade, error: job.failedReason || null } : null,
    timeline,
  };
}
