import { communityStatusOf, referenceInText } from '../../src/domain/sender-records';
import { SenderRecords } from '../../src/cases/sender-records';
import { referenceFromSequence } from '../../src/domain/reference';

const look = (s: Partial<{ status: string | null; workflow: string | null; ownedBy: string | null; assignedUserNames: string[] }>) => ({
  snapshot: { status: 'open', workflow: 'new', ownedBy: 'gateway', assignedUserNames: [], ...s },
});

describe('the status a sender is told', () => {
  it('is received while only the gateway holds the new case, and when the gateway has no look yet', () => {
    expect(communityStatusOf(look({}), 'gateway')).toBe('received');
    expect(communityStatusOf({ snapshot: null }, 'gateway')).toBe('received');
  });

  it('is in progress once a referral adds an assignee, a caseworker owns it, or it leaves workflow "new"', () => {
    expect(communityStatusOf(look({ assignedUserNames: ['agency_worker'] }), 'gateway')).toBe('in_progress');
    expect(communityStatusOf(look({ ownedBy: 'cp_worker' }), 'gateway')).toBe('in_progress');
    expect(communityStatusOf(look({ workflow: 'case_plan' }), 'gateway')).toBe('in_progress');
  });

  it('is closed when Primero closed it, whoever holds it', () => {
    expect(communityStatusOf(look({ status: 'closed', ownedBy: 'cp_worker' }), 'gateway')).toBe('closed');
  });
});

describe('a reference named in a message', () => {
  it('is read after REF or REFERENCE, with or without a colon', () => {
    expect(referenceInText('REF K7QMZ4XP more words')).toBe('K7QMZ4XP');
    expect(referenceInText('about my report, reference: k7qmz4xp')).toBe('K7QMZ4XP');
  });

  it('is read as people type it: dashed, split in two, after "number is", glued to a colon', () => {
    expect(referenceInText('REF K7QM-Z4XP he came back')).toBe('K7QMZ4XP');
    expect(referenceInText('ref k7qm z4xp')).toBe('K7QMZ4XP');
    expect(referenceInText('my reference number is K7QMZ4XP.')).toBe('K7QMZ4XP');
    expect(referenceInText('REF K7QM-Z4XP\nhe came back last night')).toBe('K7QMZ4XP');
    expect(referenceInText('hello\nmy reference is\nK7QMZ4XP')).toBe('K7QMZ4XP');
    expect(referenceInText('ref:K7QMZ4XP')).toBe('K7QMZ4XP');
  });

  it('is not read out of a word that starts with "ref" (refugiados, refuge)', () => {
    expect(referenceInText('Estado de los refugiados, necesitamos ayuda')).toBeNull();
    expect(referenceInText('we need a refuge tonight')).toBeNull();
    expect(referenceInText(null)).toBeNull();
  });
});

describe("a sender's records on the ingest path", () => {
  const link = (reference: string, n: number) => ({
    reference, recordType: 'case' as const, caseId: `id-${n}`, caseIdDisplay: null, intent: 'referral', sensitive: false, createdAt: new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString(),
  });
  /** 300 records of one sender, `sensitiveFrom` on sensitive, indexed in `order`; `reads` lists the links read. */
  const sender300 = (order: (refs: string[]) => string[] = (refs) => refs, sensitiveFrom = Infinity) => {
    const sequence = Array.from({ length: 300 }, (_, i) => i + 1);
    const byRef = new Map(sequence.map((n) => [referenceFromSequence(n), { ...link(referenceFromSequence(n), n), sensitive: n >= sensitiveFrom }]));
    const reads: string[] = [];
    const records = new SenderRecords(
      { referencesOfHashes: async () => order([...byRef.keys()]) },
      async (s) => [s],
      { get: async (r: string) => (reads.push(r), (byRef.get(r) ?? null) as never) },
      { get: async () => null },
    );
    return { records, reads };
  };

  it('reads only the most recently issued references, and so still finds the newest record', async () => {
    const { records, reads } = sender300((refs) => refs.reverse().sort());
    const found = await records.of(['tel:+254711000001'], 20);
    expect(reads).toHaveLength(20);
    expect(found[0]!.reference).toBe(referenceFromSequence(300));
    expect((await records.of(['tel:+254711000001'])).length).toBe(300);
  });

  it('reads only the record a question names, when it is one of the sender\'s, however old; none when it is not', async () => {
    const { records, reads } = sender300();
    const oldest = referenceFromSequence(1);
    expect((await records.of(['tel:+254711000001'], 20, { named: oldest })).map((r) => r.reference)).toEqual([oldest]);
    expect(reads).toEqual([oldest]);
    expect(await records.of(['tel:+254711000001'], 20, { named: 'ZZZZ2222' })).toEqual([]);
    expect(reads).toEqual([oldest]);
  });

  it('reads a follow-up\'s named record with the newest page, however old, only when it is the sender\'s', async () => {
    const { records, reads } = sender300();
    const oldest = referenceFromSequence(1);
    const found = await records.of(['tel:+254711000001'], 20, { alsoNamed: oldest });
    expect(reads).toHaveLength(21);
    expect(found.map((r) => r.reference)).toContain(oldest);
    reads.length = 0;
    await records.of(['tel:+254711000001'], 20, { alsoNamed: 'ZZZZ2222' });
    expect(reads).toHaveLength(20);
  });

  it('reads older pages until it has enough it may name, never past its cap: a page it may not name is not "no report"', async () => {
    // The 45 newest are sensitive (never named in a STATUS answer); the ones before are ordinary.
    const { records, reads } = sender300(undefined, 256);
    const found = await records.of(['tel:+254711000001'], 20, { until: (read) => read.filter((r) => !r.sensitive).length >= 5, cap: 100 });
    expect(reads).toHaveLength(60);
    expect(found.filter((r) => !r.sensitive).map((r) => r.reference).slice(0, 1)).toEqual([referenceFromSequence(255)]);
    reads.length = 0;
    await records.of(['tel:+254711000001'], 20, { until: () => false, cap: 100 });
    expect(reads).toHaveLength(100);
  });
});

describe('a reference in a long message', () => {
  // A stall, not a speed goal: each of these took seconds (quadratic backtracking) and now takes about a millisecond.
  it('is read, or found absent, without stalling the process on a long run of spaces or punctuation', () => {
    const started = Date.now();
    const spaces = ' '.repeat(200_000);
    expect(referenceInText(` ref${spaces}\nx\n`)).toBeNull();
    expect(referenceInText(`please ref${spaces}\nK7QMZ4XP`)).toBe('K7QMZ4XP');
    expect(referenceInText(`ref K7QMZ4XP a${'.'.repeat(200_000)}x`)).toBe('K7QMZ4XP');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
