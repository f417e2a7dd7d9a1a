import { Job, type Queue } from 'bullmq';
import type { RedisConnection } from '../queues/connection';
import { scanKeys } from '../store/keys';
import { uuidV5 } from '../domain/uuid';
import { QUEUES } from '../queues/names';
import type { IdentifierHasher } from '../security/identifier-hash';
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
  /** `idsHashed`: jobs queued before #13 whose raw provider id (a wamid) was replaced by its keyed hash. */
  jobs: ResealCounts & { gone: number; idsHashed: number };
  references: ResealCounts;
  pushSubscriptions: ResealCounts;
  /** Senders whose references were indexed again under the current hash key (after a HASH_KEY rotation). */
  sendersReindexed: number;
  optOutsMigrated: number;
  /** Opt-outs whose sealed URN was re-hashed under the current hash key (and resealed under the current DATA_KEY). */
  optOuts: { rehashed: number; current: number; unreadable: string[] };
  /** WhatsApp number↔user-id links (`urn-link`) rebuilt under the current hash key from their sealed URNs. */
  links: { rehashed: number; current: number; unreadable: string[] };
  /** The URN hash key earlier versions kept in Redis, deleted (it reversed every hash in a dump). */
  legacyHashKeyRemoved: boolean;
  /** The verifying second pass: what is still not under the current key. Empty means the old keys may go. */
  verified: { notCurrent: string[] };
}

/** What the provider id is stored as since #13 (IdentifierHasher.deduplicationId): an HMAC-SHA256, hex. */
const KEYED_HASH = /^[0-9a-f]{64}$/;

/** Raised before anything is read: a reseal without DATA_KEY would report plain "current" and fix nothing. */
export class ResealRefusedError extends Error {
  override readonly name = 'ResealRefusedError';
}

/**
 * Key rotation, completed: rewrites every sealed value (queued jobs and dead letters, reference links,
 * push subscriptions) under the current DATA_KEY, after which the previous keys can be removed. What no
 * configured key opens is skipped and reported, never fatal: it stays until it ages out or is discarded.
 * A second, verifying pass follows: `verified.notCurrent` names what is still not under the current key
 * (unreadable, or written by an old-key process meanwhile); the CLI exits non-zero unless it is empty.
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
    private readonly hasher: IdentifierHasher,
    /** The connection the queues' keys are SCANned on. */
    private readonly redis: RedisConnection,
  ) {}

  async run(actor: string): Promise<ResealReport> {
    if (!this.codec.encrypts) throw new ResealRefusedError('DATA_KEY is not set: reseal needs the current key to rewrite under (and the previous ones in DATA_KEY_PREVIOUS)');
    const first = await this.pass();
    const second = await this.pass();
    const notCurrent = [
      ...second.jobs.unreadable.map((j) => `job ${j}`),
      ...second.references.unreadable.map((r) => `reference ${r}`),
      ...second.pushSubscriptions.unreadable.map((s) => `push subscription ${s}`),
      ...second.optOuts.unreadable.map((h) => `opt-out ${h}`),
      ...second.links.unreadable.map((h) => `link ${h}`),
    ];
    const rewrittenAgain = second.jobs.resealed + second.references.resealed + second.pushSubscriptions.resealed + second.optOuts.rehashed + second.links.rehashed;
    if (rewrittenAgain > 0) notCurrent.push(`${rewrittenAgain} value(s) written under an old key during the run (a process still has the old DATA_KEY?): run reseal again`);
    const legacyHashKeyRemoved = await this.contacts.removeLegacyHashKey();
    if ((await this.contacts.legacyHashKey()) === 'unconfigured') notCurrent.push('the hash key earlier versions kept in Redis (urn-hash-key) is not configured: copy it into HASH_KEY_PREVIOUS');
    const report: ResealReport = { ...first, legacyHashKeyRemoved, verified: { notCurrent } };
    await this.audit.record({
      actor,
      action: 'data.reseal',
      target: 'all',
      detail: {
        resealed: first.jobs.resealed + first.references.resealed + first.pushSubscriptions.resealed,
        unreadable: first.jobs.unreadable.length + first.references.unreadable.length + first.pushSubscriptions.unreadable.length,
        notCurrent: notCurrent.length,
        optOutsMigrated: first.optOutsMigrated,
        legacyHashKeyRemoved,
      },
    });
    return report;
  }

  private async pass(): Promise<Omit<ResealReport, 'legacyHashKeyRemoved' | 'verified'>> {
    const jobs = { resealed: 0, current: 0, unreadable: [] as string[], gone: 0, idsHashed: 0 };
    // By SCAN of the queue's job hashes, not by paging each state: a job moving between states while the
    // pages are read would be skipped. BullMQ refuses `:` in job ids, so `<queue>:<id>` with no further `:` is a job.
    for (const queue of this.queues) {
      const head = `${queue.qualifiedName}:`;
      for await (const keys of scanKeys(this.redis, `${head}*`, { type: 'hash' })) {
        for (const key of keys) {
          const id = key.slice(head.length);
          if (id.includes(':') || id === 'meta') continue;
          const job = await Job.fromId(queue, id);
          if (job) await this.resealJob(queue, job, jobs);
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
    const optOuts = await this.contacts.rehashOptOuts();
    const links = await this.contacts.rehashLinks();
    return { jobs, references, pushSubscriptions, sendersReindexed, optOutsMigrated, optOuts, links };
  }

  private async resealJob(queue: Queue, job: Job, out: ResealReport['jobs']): Promise<void> {
    let updated: Record<string, unknown> | null;
    const raw = this.rawIdempotencyKey(queue, job.data);
    try {
      updated = this.codec.resealPayload(job.data, sealContext.job(queue.name), raw === null ? {} : this.hashedIdentity(job.data, raw));
    } catch {
      out.unreadable.push(`${queue.name}.${job.id}`);
      // Its raw wamid goes all the same: a seal from before #13 binds no plain field, so restoring the key still opens it.
      if (raw !== null && (await job.updateData({ ...job.data, ...this.hashedIdentity(job.data, raw) }).then(() => true, () => false))) out.idsHashed++;
      return;
    }
    if (raw !== null) out.idsHashed++;
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

  /** An intake job queued before provider ids were hashed: its idempotencyKey is still the raw id (a wamid). */
  private rawIdempotencyKey(queue: Queue, data: unknown): string | null {
    if (queue.name !== QUEUES.intake || !data || typeof data !== 'object') return null;
    const key = (data as Record<string, unknown>).idempotencyKey;
    return typeof key === 'string' && !KEYED_HASH.test(key) ? key : null;
  }

  /**
   * The raw id replaced by its keyed hash. A job without an acceptanceId names its Primero record after the
   * raw id (workers/intake.ts): that id is written into the job first, so the job creates the same record.
   */
  private hashedIdentity(data: unknown, raw: string): Record<string, unknown> {
    const d = data as Record<string, unknown>;
    const recordId = typeof d.recordId === 'string' ? d.recordId : uuidV5(typeof d.acceptanceId === 'string' && d.acceptanceId ? d.acceptanceId : raw);
    return { idempotencyKey: this.hasher.deduplicationId(raw), recordId };
  }
}
