import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for personal data at rest in Redis (job payloads, dead letters, reference links, push
 * subscriptions), so a copy of Redis alone reveals no child's details.
 *
 * Sealed text: `s2.<keyId>.<iv>.<tag>.<ciphertext>` (base64url). The tag is always 16 bytes, and the
 * additional authenticated data is `s2.<keyId>.<context>`, where the context names the value's purpose and
 * where it lives (e.g. `job:intake`, `ref-urn:<reference>`): a value copied to another field, record or key
 * id does not open. The key id lets a rotated deployment still open what a previous key sealed.
 *
 * `s1` values (no context bound) are what earlier versions wrote; they are still opened, with a 16-byte tag
 * required, so data queued before an upgrade is not lost. `npm run admin -- reseal` rewrites them as `s2`.
 */
export interface DataKey {
  id: string;
  key: Buffer;
}

const TAG_BYTES = 16;

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
    /** SEAL_ACCEPT_LEGACY: `s1` binds no context, so once reseal reports none left they are refused. */
    private readonly acceptLegacy = true,
  ) {
    this.byId = new Map([current, ...previous].map((k) => [k.id, k.key]));
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  seal(value: unknown, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(`s2.${this.current.id}.${context}`, 'utf8'));
    const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return ['s2', this.current.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string, context: string): unknown {
    const [version, keyId, iv, tag, ct, extra] = sealed.split('.');
    if ((version !== 's1' && version !== 's2') || !keyId || !iv || !tag || ct === undefined || extra !== undefined) throw new Error('not a sealed value');
    if (version === 's1' && !this.acceptLegacy) throw new Error('sealed the old way (s1), which SEAL_ACCEPT_LEGACY=false refuses');
    const key = this.byId.get(keyId);
    if (!key) throw new Error(`sealed with key ${keyId}, which is not configured (DATA_KEY / DATA_KEY_PREVIOUS)`);
    const tagBytes = Buffer.from(tag, 'base64url');
    // Checked here too: setAuthTag would otherwise accept a truncated tag on some Node versions.
    if (tagBytes.length !== TAG_BYTES) throw new Error('the sealed value has a truncated authentication tag');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
    if (version === 's2') decipher.setAAD(Buffer.from(`s2.${keyId}.${context}`, 'utf8'));
    decipher.setAuthTag(tagBytes);
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8'));
  }

  /** Sealed the current way, under the current key: nothing for a reseal to do. */
  isCurrent(sealed: string): boolean {
    return sealed.startsWith(`s2.${this.current.id}.`);
  }
}

export const isSealed = (v: unknown): v is string => typeof v === 'string' && (v.startsWith('s2.') || v.startsWith('s1.'));
