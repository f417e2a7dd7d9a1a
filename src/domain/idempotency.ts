import { createHash, createHmac } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** JSON with sorted keys, so two deliveries of the same content hash alike whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What a provider's message id is stored as (job payload, deduplication ledger, every view): a keyed hash,
 * because a WhatsApp wamid encodes the sender's number and a plain hash of it is brute-forced from a dump.
 * The key is the deployment's identifier-hash key (never in Redis), passed in so this stays pure.
 */
export function deduplicationId(key: Uint8Array, idempotencyKey: string): string {
  return createHmac('sha256', key).update(idempotencyKey, 'utf8').digest('hex');
}
