import { REFERENCE_ALPHABET, REFERENCE_LENGTH, SCRAMBLE } from './reference';

const { MASK, A, B, C } = SCRAMBLE;

function inverse(odd: bigint): bigint {
  // Newton's iteration doubles the correct low bits each step: 6 steps exceed 40 bits.
  let x = odd;
  for (let i = 0; i < 6; i++) x = (x * (2n - odd * x)) & MASK;
  return x;
}
const A_INV = inverse(A);
const C_INV = inverse(C);

/**
 * The sequence number a reference was made from (reference.ts's bijection run backwards), null for anything that
 * is no reference. References are issued in sequence order as messages are accepted, so this orders a sender's
 * references newest first without reading a single link.
 */
export function sequenceOfReference(reference: string): bigint | null {
  if (reference.length !== REFERENCE_LENGTH) return null;
  let x = 0n;
  for (const ch of reference) {
    const digit = REFERENCE_ALPHABET.indexOf(ch);
    if (digit < 0) return null;
    x = (x << 5n) | BigInt(digit);
  }
  x ^= x >> 17n;
  x ^= x >> 34n;
  x = (x * C_INV) & MASK;
  x ^= x >> 20n;
  return (((x - B) & MASK) * A_INV) & MASK;
}

/** The `limit` most recently issued of these references, newest first; ones that are no reference go last. */
export function newestReferences(references: string[], limit: number): string[] {
  const keyed = references.map((r) => ({ r, n: sequenceOfReference(r) ?? -1n }));
  return keyed.sort((a, b) => (a.n === b.n ? 0 : a.n > b.n ? -1 : 1)).slice(0, limit).map((k) => k.r);
}
