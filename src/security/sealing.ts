import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for personal data at rest in Redis (job payloads, dead letters, reference links), so a copy
 * of Redis alone reveals no child's details. Sealed text: `s1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url).
 * The key id lets a rotated deployment still open what the previous key sealed.
 */
export interface DataKey {
  id: string;
  key: Buffer;
}

export function parseDataKey(text: string): DataKey {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new Error('must be 32 bytes, as 64 hex characters or base64 (openssl rand -base64 32)');
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 8), key };
}

export class Sealer {
  private readonly byId: Map<string, Buffer>;

  /** `current` seals; `previous` keys only open, during a rotation. */
  constructor(
    private readonly current: DataKey,
    previous: DataKey[] = [],
  ) {
    this.byId = new Map([current, ...previous].map((k) => [k.id, k.key]));
  }

  seal(value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return ['s1', this.current.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string): unknown {
    const [version, keyId, iv, tag, ct] = sealed.split('.');
    if (version !== 's1' || !keyId || !iv || !tag || ct === undefined) throw new Error('not a sealed value');
    const key = this.byId.get(keyId);
    if (!key) throw new Error(`sealed with key ${keyId}, which is not configured (DATA_KEY / DATA_KEY_PREVIOUS)`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8'));
  }
}

export const isSealed = (v: unknown): v is string => typeof v === 'string' && v.startsWith('s1.');
