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
 * A job payload's seal is `s3`: its AAD adds the canonical JSON of the payload's plain fields (reference,
 * sensitive, mergeInto, idempotencyKey, acceptanceId…), so flipping `sensitive` or moving the blob beside
 * another job's fields does not open.
 *
 * `s1` values (no context bound) and `s2` payloads (plain fields not bound) are what earlier versions wrote;
 * they are still opened while SEAL_ACCEPT_LEGACY is true, so data queued before an upgrade is not lost.
 * `npm run admin -- reseal` rewrites them in the current format.
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

  /** `bound`: what else the seal authenticates (a payload's plain fields, canonical JSON); `s3` when given. */
  seal(value: unknown, context: string, bound?: string): string {
    const version = bound === undefined ? 's2' : 's3';
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(version, this.current.id, context, bound));
    const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return [version, this.current.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string, context: string, bound?: string): unknown {
    const [version, keyId, iv, tag, ct, extra] = sealed.split('.');
    if ((version !== 's1' && version !== 's2' && version !== 's3') || !keyId || !iv || !tag || ct === undefined || extra !== undefined) throw new Error('not a sealed value');
    if (version === 's1' && !this.acceptLegacy) throw new Error('sealed the old way (s1), which SEAL_ACCEPT_LEGACY=false refuses');
    if (version === 's3' && bound === undefined) throw new Error('a payload seal opens only with its plain fields');
    // An s2 payload was sealed before plain fields were bound: opened (unbound) only in the upgrade window.
    if (version === 's2' && bound !== undefined && !this.acceptLegacy) throw new Error('sealed the old way (s2 payload), which SEAL_ACCEPT_LEGACY=false refuses');
    const key = this.byId.get(keyId);
    if (!key) throw new Error(`sealed with key ${keyId}, which is not configured (DATA_KEY / DATA_KEY_PREVIOUS)`);
    const tagBytes = Buffer.from(tag, 'base64url');
    // Checked here too: setAuthTag would otherwise accept a truncated tag on some Node versions.
    if (tagBytes.length !== TAG_BYTES) throw new Error('the sealed value has a truncated authentication tag');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
    if (version !== 's1') decipher.setAAD(aad(version, keyId, context, version === 's3' ? bound : undefined));
    decipher.setAuthTag(tagBytes);
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8'));
  }

  /** Sealed the current way (`s3` for a payload, `s2` for a value), under the current key: nothing for a reseal to do. */
  isCurrent(sealed: string, payload = false): boolean {
    return sealed.startsWith(`${payload ? 's3' : 's2'}.${this.current.id}.`);
  }
}

const aad = (version: string, keyId: string, context: string, bound: string | undefined) =>
  Buffer.from(bound === undefined ? `${version}.${keyId}.${context}` : `${version}.${keyId}.${context}\n${bound}`, 'utf8');

export const isSealed = (v: unknown): v is string => typeof v === 'string' && /^s[123]\./.test(v);
