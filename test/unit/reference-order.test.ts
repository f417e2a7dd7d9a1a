import { newestReferences, sequenceOfReference } from '../../src/domain/reference-order';
import { referenceFromSequence } from '../../src/domain/reference';

describe('the order references were issued in', () => {
  it('is read back from the reference itself', () => {
    for (const n of [1, 2, 31, 32, 1_000_003, 2 ** 40 - 1]) expect(sequenceOfReference(referenceFromSequence(n))).toBe(BigInt(n));
    expect(sequenceOfReference('NOTAREF!')).toBeNull();
    expect(sequenceOfReference('SHORT')).toBeNull();
  });

  it('keeps the newest few of a sender\'s references, whatever order the index gave them in', () => {
    const refs = [5, 900, 12, 77, 3000, 41].map((n) => referenceFromSequence(n));
    expect(newestReferences(refs, 3)).toEqual([3000, 900, 77].map((n) => referenceFromSequence(n)));
    expect(newestReferences(['oddity', ...refs], 10).at(-1)).toBe('oddity');
  });
});
