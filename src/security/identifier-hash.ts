import { createHmac, hkdfSync } from 'node:crypto';
import type { Config } from '../config';
import { deduplicationId } from '../domain/idempotency';
import { parseDataKey } from './sealing';

/**
 * Keyed hashes of identifiers (URNs, contact UUIDs, provider message ids), so Redis key names, the opt-out
 * set, job payloads and log lines hold no phone number. The key never lives in Redis: it is HASH_KEY, or
 * derived from DATA_KEY when HASH_KEY is unset. A dump of Redis alone cannot recompute a hash from a
 * known number. After a rotation the previous keys are looked up as well, so opt-outs and a sender's
 * references are still found.
 */
export class IdentifierHasher {
  private readonly keys: Buffer[];

  constructor(current: Buffer, previous: Buffer[] = []) {
    this.keys = [current, ...previous];
  }

  /** The sender as it may appear in logs and key names. */
  hash(identifier: string): string {
    return hmac(this.keys[0]!, identifier);
  }

  /** The current hash first, then each previous key's: what a lookup tries. */
  candidates(identifier: string): string[] {
    return [...new Set(this.keys.map((k) => hmac(k, identifier)))];
  }

  /** The id a provider's message id is stored as (job payload, deduplication ledger). */
  deduplicationId(idempotencyKey: string): string {
    return deduplicationId(this.keys[0]!, idempotencyKey);
  }

  /** Whether `key` is one of the configured hash keys (current or previous). */
  knows(key: Buffer): boolean {
    return this.keys.some((k) => k.length === key.length && k.equals(key));
  }

  /** The current id first, then each previous key's: where an earlier delivery's ledger entry may be. */
  deduplicationCandidates(idempotencyKey: string): string[] {
    return [...new Set(this.keys.map((k) => deduplicationId(k, idempotencyKey)))];
  }
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest('hex').slice(0, 24);

/** HKDF, so the hash key says nothing about DATA_KEY and the two uses never share a key. */
const fromDataKey = (dataKey: string) => Buffer.from(hkdfSync('sha256', parseDataKey(dataKey).key, Buffer.alloc(0), 'pmg identifier hash v1', 32));

/**
 * Development without any key: a fixed, public key. Hashes still keep numbers out of key names and logs,
 * but anyone can recompute them; the production start refuses this (see config).
 */
const DEVELOPMENT_KEY = Buffer.from('primero-gateway development hash key, not secret!!', 'utf8');

export function hasherFromConfig(config: Pick<Config, 'HASH_KEY' | 'HASH_KEY_PREVIOUS' | 'DATA_KEY' | 'DATA_KEY_PREVIOUS'>): IdentifierHasher {
  const previous = config.HASH_KEY_PREVIOUS.map((k) => parseDataKey(k).key);
  // Keys derived from DATA_KEY (current and previous) stay lookups, so moving to HASH_KEY loses no opt-out.
  const derived = [config.DATA_KEY, ...config.DATA_KEY_PREVIOUS].filter((k): k is string => !!k).map(fromDataKey);
  if (config.HASH_KEY) return new IdentifierHasher(parseDataKey(config.HASH_KEY).key, [...previous, ...derived]);
  if (derived.length) return new IdentifierHasher(derived[0]!, [...previous, ...derived.slice(1)]);
  return new IdentifierHasher(DEVELOPMENT_KEY, previous);
}
