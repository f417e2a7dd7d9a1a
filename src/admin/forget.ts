import type { JobType, Queue } from 'bullmq';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import type { AuditLog } from '../store/audit';
import type { ContactStore } from '../store/contacts';
import type { ReferenceStore } from '../store/references';
import type { TraceStore } from '../store/trace';
import { parseUrn } from '../domain/urn';
import { intakeJobId, recipientsOfPayload } from '../queues/jobs';
import { CHANNEL_SENDER_ID_FIELDS } from '../channels/index';
import { UUID_PATTERN } from '../domain/uuid';

export interface ForgetReport {
  references: string[];
  jobsRemoved: number;
  /** Jobs whose sealed payload no key opens: they may be this person's; restore the key, or discard them. */
  jobsUndecodable: string[];
  /** Jobs running right now cannot be removed; run forget again once they finish. */
  jobsActiveSkipped: number;
  keysRemoved: number;
  optOutKept: boolean;
  /** Nothing at all was held under the identifier (a typo, or a form intake never stores): nothing was forgotten. */
  nothingFound: boolean;
}

/** What a forget has found so far; it grows until a pass finds nothing new. */
interface Search {
  hashes: Set<string>;
  references: Set<string>;
  identities: Set<string>;
  /** Identities whose hashes and references were looked up. */
  searched: Set<string>;
  /** References whose link was read. */
  opened: Set<string>;
  jobsUndecodable: Set<string>;
  activeSkipped: Set<string>;
  jobsRemoved: number;
}

const STATES: JobType[] = ['wait', 'waiting', 'delayed', 'prioritized', 'failed', 'completed', 'waiting-children', 'active'];


// What people put between a phone number's digits when they type or paste it.
const PHONE_SEPARATORS = /[\s().-]/g;

/**
 * A URN, or a RapidPro contact UUID (flows that pass no URN know the person only by it), in the form intake stores
 * it: a phone number typed with separators (`tel:+254 712-000 111`) becomes `tel:+254712000111`, and a WhatsApp one
 * loses its plus (`whatsapp:254712000111`, as the Cloud API's wa_id reads). A bare number is refused: it does not
 * say which channel's identity to forget. Anything else (a URN with a query or display part too) as given.
 */
export function forgetTarget(text: string): string | null {
  const trimmed = text.trim();
  if (UUID_PATTERN.test(trimmed)) return trimmed.toLowerCase();
  const parsed = parseUrn(trimmed);
  if (!parsed) return null;
  if (/[?#]/.test(trimmed)) return trimmed;
  const digits = parsed.path.replace(PHONE_SEPARATORS, '');
  if (parsed.scheme === 'tel' && /^\+?[0-9]{3,15}$/.test(digits)) return `tel:${digits}`;
  if (parsed.scheme === 'whatsapp' && /^\+?[1-9][0-9]{6,14}$/.test(digits)) return `whatsapp:${digits.replace(/^\+/, '')}`;
  return trimmed;
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
    const search: Search = {
      hashes,
      references: new Set(await this.contacts.referencesOfHashes([...hashes])),
      // The same person under their other identifier (URN ↔ contact UUID), learned from their jobs and links.
      identities: new Set([target]),
      searched: new Set([target]),
      opened: new Set(),
      jobsUndecodable: new Set(),
      activeSkipped: new Set(),
      jobsRemoved: 0,
    };
    // A job may name only an identity or a reference found after it was read (a notify job: a URN and the
    // reference; a feedback job: the contact UUID a later link names): scan again until nothing new appears.
    for (let grew = true; grew; ) {
      const known = search.identities.size + search.references.size;
      for (const queue of this.queues) await this.removeJobsOf(queue, search);
      await this.followLinks(search);
      grew = search.identities.size + search.references.size > known;
    }
    const keysRemoved = await this.removeKeys(search);
    const { references, jobsRemoved, jobsUndecodable } = search;
    const optOutKept = await this.contacts.isOptedOut(target);
    // An opt-out is something held under it: the identifier was written right, and only the opt-out stays.
    const nothingFound = references.size === 0 && jobsRemoved === 0 && jobsUndecodable.size === 0 && search.activeSkipped.size === 0 && keysRemoved === 0 && !optOutKept;
    const report: ForgetReport = { references: [...references].sort(), jobsRemoved, jobsUndecodable: [...jobsUndecodable], jobsActiveSkipped: search.activeSkipped.size, keysRemoved, optOutKept, nothingFound };
    // The target as its keyed hash, whose key is not in Redis: the audit trail names no one to a dump's reader.
    await this.audit.record({ actor, action: 'contact.forget', target: await this.contacts.urnHash(target), detail: { references: report.references.length, jobsRemoved, jobsUndecodable: jobsUndecodable.size } });
    return report;
  }

  private isThem(search: Search, who: string): boolean {
    return search.identities.has(who) || this.contacts.hashesOf(who).some((h) => search.hashes.has(h));
  }

  private async removeJobsOf(queue: Queue, search: Search): Promise<void> {
    const { identities, references, hashes } = search;
    for (const job of await queue.getJobs(STATES)) {
      if (!job) continue;
      let payload: Record<string, unknown>;
      try {
        payload = this.codec.decode(job.data, sealContext.job(job.queueName));
      } catch {
        search.jobsUndecodable.add(`${queue.name}.${job.id}`);
        continue;
      }
      const about = recipientsOfPayload(payload, CHANNEL_SENDER_ID_FIELDS);
      // A dead letter kept whole names its senders by hash only (it may hold many people's messages).
      const senders = Array.isArray(payload.senders) ? payload.senders : [];
      const ofReference = [payload.reference, ...intakeJobId.referencesNamed(job.id ?? '')].some((r) => typeof r === 'string' && references.has(r));
      const named = ofReference || about.some((who) => this.isThem(search, who));
      if (!named && !senders.some((h) => typeof h === 'string' && hashes.has(h))) continue;
      // Matched only as one sender among many: the letter's other identities are not this person's.
      if (named) for (const who of about) identities.add(who);
      if (typeof payload.reference === 'string') references.add(payload.reference);
      if (await job.isActive()) {
        search.activeSkipped.add(`${queue.name}.${job.id}`);
        continue;
      }
      await job.remove();
      search.jobsRemoved++;
    }
  }

  /**
   * Each link names its URN and contact UUID: the other identifier's keys (contact-refs, rate, feedback
   * windows) are found even when no job of the person is left.
   */
  private async followLinks(search: Search): Promise<void> {
    const { identities, references, hashes, searched, opened } = search;
    for (let found = true; found; ) {
      found = false;
      for (const who of identities) {
        if (searched.has(who)) continue;
        searched.add(who);
        const theirs = await this.contacts.identityHashes(who);
        for (const h of theirs) hashes.add(h);
        for (const r of await this.contacts.referencesOfHashes(theirs)) references.add(r);
        found = true;
      }
      for (const reference of references) {
        if (opened.has(reference)) continue;
        opened.add(reference);
        const link = await this.references.get(reference).catch(() => null);
        for (const who of [link?.urn, link?.contactUuid?.toLowerCase()]) {
          if (who && !identities.has(who)) {
            identities.add(who);
            found = true;
          }
        }
      }
    }
  }

  private async removeKeys({ references, identities, hashes }: Search): Promise<number> {
    let keysRemoved = 0;
    for (const reference of references) {
      keysRemoved += await this.references.remove(reference);
      keysRemoved += await this.trace.remove(reference);
    }
    for (const who of identities) keysRemoved += await this.contacts.forgetKeys(who);
    keysRemoved += await this.contacts.forgetKeysOfHashes([...hashes]);
    return keysRemoved;
  }
}
