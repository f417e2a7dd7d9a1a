import type { SenderRecord } from '../domain/sender-records';
import { newestFirst } from '../domain/sender-records';
import { newestReferences } from '../domain/reference-order';
import type { ContactReferenceStore } from '../store/contact-references';
import type { ReferenceStore } from '../store/references';
import type { SnapshotStore } from '../store/snapshots';

/**
 * The records the gateway created for one sender (by URN or RapidPro contact UUID), newest first, with the last
 * look it had of each. Only the sender's own: the contact-refs index is keyed by the keyed hash of who wrote.
 */
export class SenderRecords {
  constructor(
    private readonly contactRefs: Pick<ContactReferenceStore, 'referencesOfHashes'>,
    /** Every hash a sender is known by: theirs under each hash key and their linked identities (WhatsApp's user id beside the number). */
    private readonly identityHashes: (sender: string) => Promise<string[]>,
    private readonly references: Pick<ReferenceStore, 'get'>,
    private readonly snapshots: Pick<SnapshotStore, 'get'>,
  ) {}

  /**
   * `limit`: only the sender's most recently issued references are read (a request path's bound). `named`: only that
   * reference is read, when it is one of the sender's (else none): a question about one record costs one record's reads.
   * `until`: `limit` is a page, and older pages are read, up to `cap` references in all, until what was read is enough
   * (a STATUS answer that skips records it may not name must not say "no report" while an older one may be named).
   * `alsoNamed`: that reference is read too, however old, when it is one of the sender's (a follow-up naming its case);
   * it reads the first page only, so it does not combine with `until`.
   */
  async of(
    senders: Array<string | null | undefined>,
    limit = Infinity,
    opts: { named?: string | null; alsoNamed?: string | null; until?: (read: SenderRecord[]) => boolean; cap?: number } = {},
  ): Promise<SenderRecord[]> {
    const ids = [...new Set(senders.filter((s): s is string => !!s).map((s) => (s.includes(':') ? s : s.toLowerCase())))];
    const hashes = [...new Set((await Promise.all(ids.map((id) => this.identityHashes(id)))).flat())];
    const indexed = await this.contactRefs.referencesOfHashes(hashes);
    const { named = null, until, cap = limit } = opts;
    if (named !== null) return this.read(indexed.filter((r) => r === named));
    if (indexed.length <= limit) return this.read(indexed);
    const ordered = newestReferences(indexed, Math.max(limit, cap));
    const { alsoNamed = null } = opts;
    if (alsoNamed !== null && indexed.includes(alsoNamed) && !ordered.slice(0, limit).includes(alsoNamed)) return this.read([...ordered.slice(0, limit), alsoNamed]);
    let read: SenderRecord[] = [];
    for (let from = 0; from < ordered.length; from += limit) {
      read = [...read, ...(await this.read(ordered.slice(from, from + limit)))];
      if (!until || until(newestFirst(read))) break;
    }
    return newestFirst(read);
  }

  private async read(refs: string[]): Promise<SenderRecord[]> {
    const links = (await Promise.all(refs.map((r) => this.references.get(r)))).filter((l) => l !== null);
    const records = await Promise.all(
      links.map(async (l): Promise<SenderRecord> => {
        const snapshot = await this.snapshots.get(l.caseId);
        return {
          reference: l.reference,
          recordType: l.recordType,
          recordId: l.caseId,
          caseIdDisplay: l.caseIdDisplay,
          intent: l.intent,
          sensitive: l.sensitive,
          safeToContact: l.safeToContact ?? null,
          safeUnconfirmed: snapshot?.safeUnconfirmed === true,
          createdAt: l.createdAt,
          snapshot: snapshot && { status: snapshot.status, workflow: snapshot.workflow, ownedBy: snapshot.ownedBy, assignedUserNames: snapshot.assignedUserNames },
        };
      }),
    );
    return newestFirst(records);
  }
}
