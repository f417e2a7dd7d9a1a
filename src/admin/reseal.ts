import type { Job, JobType, Queue } from 'bullmq';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import type { AuditLog } from '../store/audit';
import type { ContactStore } from '../store/contacts';
import type { PushSubscriptionStore } from '../store/push-subscriptions';
import type { ReferenceStore } from '../store/references';

export interface ResealCounts {
  /** Rewritten under the current DATA_KEY and format. */
  resealed: number;
  /** Already sealed under the current key (or not sealed at all): left as they are. */
  current: number;
  /** Sealed under a key that is not configured (or damaged): left in place, named here. */
  unreadable: string[];
}

export interface ResealReport {
  jobs: ResealCounts & { gone: number };
  references: ResealCounts;
  pushSubscriptions: ResealCounts;
  /** Senders whose references were indexed again under the current hash key (after a HASH_KEY rotation). */
  sendersReindexed: number;
  optOutsMigrated: number;
  /** The URN hash key earlier versions kept in Redis, deleted (it reversed every hash in a dump). */
  legacyHashKeyRemoved: boolean;
}

const STATES: JobType[] = ['wait', 'delayed', 'prioritized', 'waiting-children', 'active', 'failed', 'completed'];
const PAGE = 500;

/**
 * Key rotation, completed: rewrites every sealed value (queued jobs and dead letters, reference links,
 * push subscriptions) under the current DATA_KEY, after which the previous keys can be removed. What no
 * configured key opens is skipped and reported, never fatal: it stays until it ages out or is discarded.
 */
export class Reseal {
  constructor(
    private readonly queues: Queue[],
    private readonly codec: PayloadCodec,
    private readonly references: ReferenceStore,
    private readonly subscriptions: PushSubscriptionStore,
    private readonly contacts: ContactStore,
    private readonly audit: AuditLog,
    private readonly referenceRetentionDays: number,
  ) {}

  async run(actor: string): Promise<ResealReport> {
    const jobs = { resealed: 0, current: 0, unreadable: [] as string[], gone: 0 };
    for (const queue of this.queues) {
      for (const state of STATES) {
        for (let start = 0; ; start += PAGE) {
          const page = (await queue.getJobs([state], start, start + PAGE - 1, true)).filter((j): j is Job => !!j);
          for (const job of page) await this.resealJob(queue, job, jobs);
          if (page.length < PAGE) break;
        }
      }
    }
    let sendersReindexed = 0;
    let optOutsMigrated = 0;
    const references = await this.references.reseal(async (reference, urn, ttlMs) => {
      if (await this.contacts.reindex(urn, reference, ttlMs ?? this.referenceRetentionDays * 86_400_000)) sendersReindexed++;
      if (await this.contacts.migrateOptOut(urn)) optOutsMigrated++;
    });
    const pushSubscriptions = await this.subscriptions.reseal();
    const legacyHashKeyRemoved = await this.contacts.removeLegacyHashKey();
    const report: ResealReport = { jobs, references, pushSubscriptions, sendersReindexed, optOutsMigrated, legacyHashKeyRemoved };
    await this.audit.record({
      actor,
      action: 'data.reseal',
      target: 'all',
      detail: {
        resealed: jobs.resealed + references.resealed + pushSubscriptions.resealed,
        unreadable: jobs.unreadable.length + references.unreadable.length + pushSubscriptions.unreadable.length,
        optOutsMigrated,
        legacyHashKeyRemoved,
      },
    });
    return report;
  }

  private async resealJob(queue: Queue, job: Job, out: ResealReport['jobs']): Promise<void> {
    let updated: Record<string, unknown> | null;
    try {
      updated = this.codec.resealPayload(job.data, sealContext.job(queue.name));
    } catch {
      out.unreadable.push(`${queue.name}.${job.id}`);
      return;
    }
    if (updated === null) {
      out.current++;
      return;
    }
    try {
      await job.updateData(updated);
      out.resealed++;
    } catch {
      // Completed and removed between the listing and the write: nothing left to reseal.
      out.gone++;
    }
  }
}
