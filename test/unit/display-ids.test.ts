import { DisplayIds } from '../../src/cases/display-ids';
import { createLogger } from '../../src/logger';
import type { CaseLink } from '../../src/store/references';

const link = { reference: 'REF-1', caseId: 'rec-1', caseIdDisplay: null } as unknown as CaseLink;

function displayIds(answer: () => Promise<Record<string, unknown>>) {
  const reads: string[] = [];
  const kept: string[] = [];
  const ids = new DisplayIds(
    { get: async () => null },
    { referenceOfRecord: async () => 'REF-1', get: async () => link, keepDisplayId: async (_ref: string, display: string) => void kept.push(display) },
    { getRecord: async (_type: string, id: string) => (reads.push(id), answer()) } as never,
    createLogger('silent'),
  );
  return { ids, reads, kept };
}

describe('display ids read where an alert shows them', () => {
  it('reads a new case once for alerts to several caseworkers at the same moment, and keeps it on the link', async () => {
    const { ids, reads, kept } = displayIds(async () => ({ id: 'rec-1', case_id_display: 'cp-42' }));
    const shown = await Promise.all([ids.of('case', 'rec-1'), ids.of('case', 'rec-1'), ids.of('case', 'rec-1')]);
    expect(shown).toEqual(['cp-42', 'cp-42', 'cp-42']);
    expect(reads).toEqual(['rec-1']);
    expect(kept).toEqual(['cp-42']);
  });

  it('names no display id when Primero cannot be read, and reads again for a later alert', async () => {
    let fail = true;
    const { ids, reads } = displayIds(async () => {
      if (fail) throw new Error('timeout');
      return { id: 'rec-1', case_id_display: 'cp-42' };
    });
    expect(await ids.of('case', 'rec-1')).toBeNull();
    fail = false;
    expect(await ids.of('case', 'rec-1')).toBe('cp-42');
    expect(reads).toHaveLength(2);
  });
});
