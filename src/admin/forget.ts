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
  /** Jobs whose sealed payload no key opens: they may be this person's; restore the key, or discard them. */
  jobsUndecodable: string[];
  /** Jobs running right now cannot be removed; run forget again once they finish. */
  jobsActiveSkipped: number;
  keysRemoved: number;
  optOutKept: boolean;
}

const STATES: JobType[] = ['wait', 'waiting', 'delayed', 'prioritized', 'failed', 'completed', 'waiting-children', 'active'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A URN, or a RapidPro contact UUID (flows that pass no URN know the person only by it). */
export function forgetTarget(text: string): string | null {
  const trimmed = text.trim();
  if (UUID.test(trimmed)) return trimmed.toLowerCase();
  return parseUrn(trimmed) ? trimmed : null;
}

/** Who a payload is about: its URN (a reply job's WhatsApp id is `whatsapp:<id>`) and its RapidPro contact. */
function identitiesOfPayload(data: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (typeof data.urn === 'string') out.push(data.urn);
  if (typeof data.waId === 'string') out.push(`whatsapp:${data.waId}`);
  if (typeof data.contactUuid === 'string') out.push(data.contactUuid.toLowerCase());
  return out;
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

  async forget(urnOrContact: string, actor: string): Promise<ForgetReport> {
    const target = forgetTarget(urnOrContact) ?? urnOrContact;
    // Their own hashes and those of identities linked to them (a WhatsApp number and its user id).
    const hashes = new Set(await this.contacts.identityHashes(target));
    const references = new Set(await this.contacts.referencesOfHashes([...hashes]));
    const isThem = (who: string) => who === target || this.contacts.hashesOf(who).some((h) => hashes.has(h));
    // The same person under their other identifier (URN ↔ contact UUID), learned from their jobs.
    const identities = new Set([target]);
    const jobsUndecodable: string[] = [];
    let jobsRemoved = 0;
    let jobsActiveSkipped = 0;
    for (const queue of this.queues) {
      for (const job of await queue.getJobs(STATES)) {
        if (!job) continue;
        let payload: Record<string, unknown>;
        try {
          payload = this.codec.decode(job.data, sealContext.job(job.queueName));
        } catch {
          jobsUndecodable.push(`${queue.name}.${job.id}`);
          continue;
        }
        const about = identitiesOfPayload(payload);
        // A dead letter kept whole names its senders by hash only (it may hold many people's messages).
        const senders = Array.isArray(payload.senders) ? payload.senders : [];
        if (!about.some(isThem) && !senders.some((h) => typeof h === 'string' && hashes.has(h))) continue;
        for (const who of about) identities.add(who);
        if (typeof payload.reference === 'string') references.add(payload.reference);
        if (await job.isActive()) {
          jobsActiveSkipped++;
          continue;
        }
        await job.remove();
        jobsRemoved++;
      }
    }
    // Each link names its URN and contact UUID: the other identifier's keys (contact-refs, rate, feedback
    // windows) are found even when no job of the person is left. Until no new identity or reference appears.
    const opened = new Set<string>();
    const searched = new Set([target]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const who of identities) {
        if (searched.has(who)) continue;
        searched.add(who);
        for (const r of await this.contacts.referencesOf(who)) if (!references.has(r)) references.add(r);
        grew = true;
      }
      for (const reference of references) {
        if (opened.has(reference)) continue;
        opened.add(reference);
        const link = await this.references.get(reference).catch(() => null);
        for (const who of [link?.urn, link?.contactUuid?.toLowerCase()]) {
          if (who && !identities.has(who)) {
            identities.add(who);
            grew = true;
          }
        }
      }
    }
    let keysRemoved = 0;
    for (const reference of references) {
      keysRemoved += await this.references.remove(reference);
      keysRemoved += await this.trace.remove(reference);
    }
    for (const who of identities) keysRemoved += await this.contacts.forgetKeys(who);
    keysRemoved += await this.contacts.forgetKeysOfHashes([...hashes]);
    const optOutKept = await this.contacts.isOptedOut(target);
    const report: ForgetReport = { references: [...references].sort(), jobsRemoved, jobsUndecodable, jobsActiveSkipped, keysRemoved, optOutKept };
    // The target as its keyed hash, whose key is not in Redis: the audit trail names no one to a dump's reader.
    await this.audit.record({ actor, action: 'contact.forget', target: await this.contacts.urnHash(target), detail: { references: report.references.length, jobsRemoved, jobsUndecodable: jobsUndecodable.length } });
    return report;
  }
}
