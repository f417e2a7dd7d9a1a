import type { JobType, Queue } from 'bullmq';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import type { AuditLog } from '../store/audit';
import type { ContactStore } from '../store/contacts';
import type { ReferenceStore } from '../store/references';
import type { TraceStore } from '../store/trace';
import { parseUrn } from '../domain/urn';

export interface ForgetReport {
  references: string[];
  jobsRemoved: number;
  /** Jobs running right now cannot be removed; run forget again once they finish. */
  jobsActiveSkipped: number;
  keysRemoved: number;
  optOutKept: boolean;
}

const STATES: JobType[] = ['wait', 'waiting', 'delayed', 'prioritized', 'failed', 'completed', 'waiting-children', 'active'];

/** The WhatsApp id a reply job addresses is the same person as `whatsapp:<id>`. */
function urnOfPayload(data: Record<string, unknown>): string | null {
  if (typeof data.urn === 'string') return data.urn;
  if (typeof data.waId === 'string') return `whatsapp:${data.waId}`;
  return null;
}

/**
 * Right to be forgotten: removes everything the gateway holds about one person — reference links, traces,
 * queued jobs and dead letters, rate and feedback-window keys — keeping only their opt-out. Records already
 * in Primero are Primero's to delete.
 */
export class ForgetContact {
  constructor(
    private readonly queues: Queue[],
    private readonly codec: PayloadCodec,
    private readonly contacts: ContactStore,
    private readonly references: ReferenceStore,
    private readonly trace: TraceStore,
    private readonly audit: AuditLog,
  ) {}

  async forget(urn: string, actor: string): Promise<ForgetReport> {
    const target = parseUrn(urn) ? urn.trim() : urn;
    const references = new Set(await this.contacts.referencesOf(target));
    let jobsRemoved = 0;
    let jobsActiveSkipped = 0;
    for (const queue of this.queues) {
      for (const job of await queue.getJobs(STATES)) {
        if (!job) continue;
        let payload: Record<string, unknown>;
        try {
          payload = this.codec.decode(job.data, sealContext.job(job.queueName));
        } catch {
          continue;
        }
        if (urnOfPayload(payload) !== target) continue;
        if (typeof payload.reference === 'string') references.add(payload.reference);
        if (await job.isActive()) {
          jobsActiveSkipped++;
          continue;
        }
        await job.remove();
        jobsRemoved++;
      }
    }
    let keysRemoved = 0;
    for (const reference of references) {
      keysRemoved += await this.references.remove(reference);
      keysRemoved += await this.trace.remove(reference);
    }
    keysRemoved += await this.contacts.forgetKeys(target);
    const optOutKept = await this.contacts.isOptedOut(target);
    const report: ForgetReport = { references: [...references].sort(), jobsRemoved, jobsActiveSkipped, keysRemoved, optOutKept };
    await this.audit.record({ actor, action: 'contact.forget', target: await this.contacts.urnHash(target), detail: { references: report.references.length, jobsRemoved } });
    return report;
  }
}
