import { randomBytes } from 'node:crypto';
import { maskPersonal } from '../../src/admin/masking';
import { loadConfig } from '../../src/config';
import { deduplicationId } from '../../src/domain/idempotency';
import { hasherFromConfig } from '../../src/security/identifier-hash';

const minimal = { NODE_ENV: 'test', PRIMERO_URL: 'https://primero.example.org', PRIMERO_USER: 'sms_gateway', PRIMERO_PASSWORD: 'secret-password' };
const key = () => randomBytes(32).toString('base64');
const hashing = (env: Record<string, string>) => {
  const result = loadConfig({ ...minimal, ...env });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return hasherFromConfig(result.config);
};

describe('identifier hashes', () => {
  it('refuse to start in production without a separate HASH_KEY: never derived from DATA_KEY there', () => {
    const refused = loadConfig({ ...minimal, NODE_ENV: 'production', DATA_KEY: key() });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.problems).toEqual([expect.stringMatching(/^HASH_KEY: is required when NODE_ENV=production/)]);
    expect(loadConfig({ ...minimal, NODE_ENV: 'production', HASH_KEY: key(), DATA_KEY: key() }).ok).toBe(true);
    // And it seals: production without DATA_KEY would keep messages in clear.
    expect(loadConfig({ ...minimal, NODE_ENV: 'production', HASH_KEY: key() })).toEqual({ ok: false, problems: [expect.stringMatching(/^DATA_KEY: is required when NODE_ENV=production/)] });
    // Derived from DATA_KEY, the hash key would vanish with the old DATA_KEY and take the opt-outs with it.
    expect(loadConfig({ ...minimal, NODE_ENV: 'production', DATA_KEY: key() }).ok).toBe(false);
    expect(loadConfig({ ...minimal, HASH_KEY: 'short' }).ok).toBe(false);
  });

  it('use the public development key only when NODE_ENV is explicitly development or test', () => {
    for (const NODE_ENV of [undefined, '', 'staging', 'Production']) {
      const refused = loadConfig({ ...minimal, NODE_ENV });
      expect(refused.ok).toBe(false);
      if (!refused.ok) expect(refused.problems).toEqual([expect.stringMatching(/^HASH_KEY: is required unless NODE_ENV is development or test/)]);
    }
    expect(loadConfig({ ...minimal, NODE_ENV: 'development' }).ok).toBe(true);
    expect(loadConfig({ ...minimal, NODE_ENV: 'test' }).ok).toBe(true);
    expect(loadConfig({ ...minimal, NODE_ENV: undefined, DATA_KEY: key() }).ok).toBe(true);
    expect(loadConfig({ ...minimal, NODE_ENV: undefined, HASH_KEY: key() }).ok).toBe(true);
  });

  it('depend on the key: two deployments hash the same number differently', () => {
    const a = hashing({ HASH_KEY: key() });
    const b = hashing({ HASH_KEY: key() });
    expect(a.hash('tel:+256772000101')).toMatch(/^[0-9a-f]{24}$/);
    expect(a.hash('tel:+256772000101')).toBe(a.hash('tel:+256772000101'));
    expect(a.hash('tel:+256772000101')).not.toBe(b.hash('tel:+256772000101'));
    expect(a.deduplicationId('whatsapp:wamid.X')).not.toBe(b.deduplicationId('whatsapp:wamid.X'));
  });

  it('derived from DATA_KEY, differ from DATA_KEY itself used as an HMAC key', () => {
    const dataKey = randomBytes(32);
    const derived = hashing({ DATA_KEY: dataKey.toString('base64') });
    expect(derived.deduplicationId('tel:+1')).not.toBe(deduplicationId(dataKey, 'tel:+1'));
  });

  it('after a rotation, still look up under the previous keys, the current one first', () => {
    const old = key();
    const before = hashing({ HASH_KEY: old });
    const after = hashing({ HASH_KEY: key(), HASH_KEY_PREVIOUS: old });
    const candidates = after.candidates('tel:+256772000101');
    expect(candidates[0]).toBe(after.hash('tel:+256772000101'));
    expect(candidates).toContain(before.hash('tel:+256772000101'));
    // Moving from a DATA_KEY-derived key to HASH_KEY keeps the derived one as a lookup.
    const dataKey = key();
    expect(hashing({ DATA_KEY: dataKey, HASH_KEY: key() }).candidates('x')).toContain(hashing({ DATA_KEY: dataKey }).hash('x'));
  });

  it('views show a stored provider id only when it is a keyed hash, never a raw wamid an older job still holds', () => {
    const hashed = hashing({ HASH_KEY: key() }).deduplicationId('whatsapp:wamid.HBgMMjU2');
    expect(maskPersonal({ idempotencyKey: hashed }).idempotencyKey).toBe(hashed);
    expect(maskPersonal({ idempotencyKey: 'whatsapp:wamid.HBgMMjU2' }).idempotencyKey).toBe('[masked: 23 characters]');
  });
});
