import { normaliseReference, REFERENCE_ALPHABET, referenceFromSequence } from '../../src/domain/reference';

describe('references', () => {
  it('are 8 characters with no 0, O, 1 or I', () => {
    expect(REFERENCE_ALPHABET).not.toMatch(/[01OI]/);
    for (let n = 1; n <= 2000; n++) expect(referenceFromSequence(n)).toMatch(/^[2-9A-HJ-NP-Z]{8}$/);
  });

  it('never repeat for distinct sequence numbers', () => {
    const seen = new Set<string>();
    for (let n = 1; n <= 200_000; n++) seen.add(referenceFromSequence(n));
    expect(seen.size).toBe(200_000);
  });

  it('do not look sequential', () => {
    const [a, b] = [referenceFromSequence(41), referenceFromSequence(42)];
    const samePositions = [...a].filter((ch, i) => b[i] === ch).length;
    expect(samePositions).toBeLessThan(6);
  });

  it('read back what a person types', () => {
    const ref = referenceFromSequence(7);
    expect(normaliseReference(` ${ref.slice(0, 4).toLowerCase()}-${ref.slice(4)} `)).toBe(ref);
    expect(normaliseReference('ABCD0000')).toBeNull();
    expect(normaliseReference('ABC')).toBeNull();
  });
});
