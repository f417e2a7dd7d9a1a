/**
 * References are what a community member reads aloud, types on a feature phone, or gives a caseworker.
 * They are 8 characters from an alphabet without 0/O and 1/I, made from a Redis sequence number by a
 * fixed bijection on 40 bits: unique for 2^40 messages, never sequential-looking, no collisions to handle.
 */
export const REFERENCE_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
export const REFERENCE_LENGTH = 8;

const BITS = 40n;
/** The bijection's constants, shared with its inverse (reference-order.ts). */
export const SCRAMBLE = { MASK: (1n << BITS) - 1n, A: 0x9e3779b97n, B: 0x5bd1e995n, C: 0xc2b2ae3d5n } as const;
// Odd multipliers are invertible modulo 2^40; the xor-shifts spread low bits upwards.
const { MASK, A, B, C } = SCRAMBLE;

function scramble(n: bigint): bigint {
  let x = (n * A + B) & MASK;
  x ^= x >> 20n;
  x = (x * C) & MASK;
  x ^= x >> 17n;
  return x;
}

export function referenceFromSequence(sequence: number | bigint): string {
  const n = BigInt(sequence);
  if (n < 1n || n > MASK) throw new RangeError('reference sequence out of range');
  let x = scramble(n);
  let out = '';
  for (let i = 0; i < REFERENCE_LENGTH; i++) {
    out = REFERENCE_ALPHABET[Number(x & 31n)]! + out;
    x >>= 5n;
  }
  return out;
}

/** Reads what a person types: any case, with spaces or dashes; anything outside the alphabet is no reference. */
export function normaliseReference(input: string): string | null {
  const s = input.toUpperCase().replace(/[\s-]/g, '');
  if (s.length !== REFERENCE_LENGTH) return null;
  for (const ch of s) if (!REFERENCE_ALPHABET.includes(ch)) return null;
  return s;
}
