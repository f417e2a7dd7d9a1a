import type { PrimeroClient } from '../../src/clients/primero';
import { createLogger } from '../../src/logger';
import { createRedis } from '../../src/queues/connection';
import { NoteDetector } from '../../src/replies/note-detector';
import { PayloadCodec } from '../../src/security/payload-codec';
import type { CaseworkerMessageLedger } from '../../src/store/caseworker-messages';
import { deleteByPrefix } from '../../src/store/keys';
import { ReferenceStore, type CaseLink } from '../../src/store/references';
import type { CaseworkerMessageProducer } from '../../src/queues/caseworker-messages';
import { LogCapture, TEST_REDIS_URL, uniquePrefix } from '../support/gateway';
import { expectNoPersonalData } from '../support/personal-data';

const URN = 'tel:+254711709999';

describe('"safe to contact" on the link: a no always wins, a yes only fills an unknown, even when writers race', () => {
  const prefix = uniquePrefix('safe-races');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const references = new ReferenceStore(redis, prefix, 1, new PayloadCodec(null));
  const logs = new LogCapture();
  let records = 0;

  const linkWith = async (safeToContact: boolean | null): Promise<CaseLink> => {
    const n = ++records;
    const link: CaseLink = {
      reference: `REF-${n}`, recordType: 'case', caseId: `record-${n}`, caseIdDisplay: `cp-${n}`, urn: URN, channel: 'rapidpro',
      intent: 'referral', sensitive: false, createdAt: new Date().toISOString(), safeToContact, steps: {},
    };
    expect(await references.saveLink(link)).toBeNull();
    return link;
  };
  const safeOf = async (link: CaseLink) => (await references.get(link.reference))!.safeToContact;

  /** A detector whose read of the record runs `during` before Primero answers `record`: the window a merge can land in. */
  const detector = (record: Record<string, unknown>, during: () => Promise<void>, field = 'safe_to_contact') => {
    const primero: Pick<PrimeroClient, 'getRecord'> = {
      getRecord: async () => {
        await during();
        return record;
      },
    };
    return new NoteDetector({
      primero, references, subject: 'Message to the reporter', logger: createLogger('debug', logs), counters: { increment: () => undefined }, safeFieldOf: () => field,
      ledger: { get: async () => null } as unknown as CaseworkerMessageLedger,
      producer: { enqueue: async () => undefined } as unknown as CaseworkerMessageProducer,
    });
  };

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('a merged "not safe" that lands while the detector reads a record still saying yes stays not safe', async () => {
    for (const before of [null, true]) {
      const link = await linkWith(before);
      await detector({ notes_section: [], safe_to_contact: true }, () => references.lowerSafeToContact(link.reference)).detect('case', link.caseId);
      expect(await safeOf(link)).toBe(false);
    }
  });

  it('the record answers an unknown either way and lowers a yes; nothing the record says raises a no', async () => {
    const cases: Array<[boolean | null, boolean, boolean]> = [[null, true, true], [null, false, false], [true, false, false], [true, true, true], [false, true, false], [false, false, false]];
    for (const [before, recordSays, after] of cases) {
      const link = await linkWith(before);
      await detector({ notes_section: [], safe_to_contact: recordSays }, async () => undefined).detect('case', link.caseId);
      expect({ before, recordSays, after: await safeOf(link) }).toEqual({ before, recordSays, after });
    }
  });

  it('a read without the field counts as unreadable only once Primero has shown that same field, never after a merge or a mapping moved to another field', async () => {
    const link = await linkWith(true);
    const read = (record: Record<string, unknown>, field?: string) => detector({ notes_section: [], ...record }, async () => undefined, field).detect('case', link.caseId);
    await references.lowerSafeToContact(link.reference);
    expect((await read({})).safe).toBe('read');
    await read({ old_safe_field: false }, 'old_safe_field');
    expect((await references.get(link.reference))!.safeSeen).toBe('old_safe_field');
    expect((await read({}, 'old_safe_field')).safe).toBe('unreadable');
    expect((await read({})).safe).toBe('read');
  });

  it('the store itself never raises a no, whoever asks', async () => {
    const link = await linkWith(false);
    await references.followRecordSafeToContact(link.reference, true, 'safe_to_contact');
    expect(await safeOf(link)).toBe(false);
  });

  it('puts no URN in any log line', () => {
    expectNoPersonalData(logs.text, [URN, URN.slice(4)]);
  });
});
