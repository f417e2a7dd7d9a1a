import { createCipheriv, randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config';
import { codecFromConfig } from '../../src/security/codec-from-config';
import { PayloadCodec } from '../../src/security/payload-codec';
import { parseDataKey, Sealer, type DataKey } from '../../src/security/sealing';

const keyText = randomBytes(32).toString('base64');
const keyA = parseDataKey(keyText);
const keyB = parseDataKey(randomBytes(32).toString('hex'));

/** What versions before context binding wrote: `s1`, no AAD, and whatever tag length the writer chose. */
function legacySeal(key: DataKey, value: unknown, tagLength = 16): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, { authTagLength: tagLength });
  const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return ['s1', key.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

describe('sealing personal data at rest', () => {
  it('round-trips and hides the content', () => {
    const sealer = new Sealer(keyA);
    const sealed = sealer.seal({ urn: 'tel:+250788123123' }, 'job:intake');
    expect(sealed).toMatch(/^s2\./);
    expect(sealed).not.toContain('250788123123');
    expect(sealer.open(sealed, 'job:intake')).toEqual({ urn: 'tel:+250788123123' });
  });

  it('opens what the previous key sealed after a rotation, and refuses an unknown key', () => {
    const old = new Sealer(keyA).seal('x', 'c');
    expect(new Sealer(keyB, [keyA]).open(old, 'c')).toBe('x');
    expect(() => new Sealer(keyB).open(old, 'c')).toThrow(/not configured/);
  });

  it('detects tampering', () => {
    const sealed = new Sealer(keyA).seal('secret', 'c');
    const parts = sealed.split('.');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => new Sealer(keyA).open(parts.join('.'), 'c')).toThrow();
  });

  it('refuses a value moved to another field or record: the context is authenticated', () => {
    const sealer = new Sealer(keyA);
    const sealed = sealer.seal('tel:+250788123123', 'ref-urn:AAAA2222');
    expect(() => sealer.open(sealed, 'ref-urn:BBBB3333')).toThrow();
    expect(() => sealer.open(sealed, 'push:amina:0123')).toThrow();
  });

  it('refuses a key id swapped in the header, even when that key is configured', () => {
    const sealer = new Sealer(keyA, [keyB]);
    const parts = sealer.seal('x', 'c').split('.');
    parts[1] = keyB.id;
    expect(() => sealer.open(parts.join('.'), 'c')).toThrow();
  });

  it('requires the full 16-byte tag: a 4-byte tag is refused', () => {
    const sealer = new Sealer(keyA);
    const short = legacySeal(keyA, 'x', 4);
    expect(() => sealer.open(short, 'c')).toThrow(/tag/);
    const parts = sealer.seal('x', 'c').split('.');
    parts[3] = Buffer.from(parts[3]!, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => sealer.open(parts.join('.'), 'c')).toThrow(/tag/);
  });

  it('still opens values sealed the old way (s1) so queued data survives the upgrade; reseal upgrades them', () => {
    const codec = new PayloadCodec(new Sealer(keyA));
    const old = legacySeal(keyA, 'tel:+1');
    expect(codec.openValue(old, 'anything')).toBe('tel:+1');
    const upgraded = codec.resealValue(old, 'ref-urn:X')!;
    expect(upgraded).toMatch(/^s2\./);
    expect(codec.openValue(upgraded, 'ref-urn:X')).toBe('tel:+1');
    expect(codec.resealValue(upgraded, 'ref-urn:X')).toBeNull();
  });

  it('refuses s1 values once SEAL_ACCEPT_LEGACY=false, and still opens s2', () => {
    const old = legacySeal(keyA, 'tel:+1');
    const strict = codecFromConfig({ DATA_KEY: keyText, DATA_KEY_PREVIOUS: [], SEAL_ACCEPT_LEGACY: false });
    expect(() => strict.openValue(old, 'anything')).toThrow(/SEAL_ACCEPT_LEGACY/);
    expect(strict.openValue(strict.sealValue('tel:+1', 'c'), 'c')).toBe('tel:+1');
    const parsed = loadConfig({ NODE_ENV: 'test', PRIMERO_URL: 'https://p.example.org', PRIMERO_USER: 'u', PRIMERO_PASSWORD: 'p', DATA_KEY: keyText, SEAL_ACCEPT_LEGACY: 'false' });
    expect(parsed.ok && parsed.config.SEAL_ACCEPT_LEGACY).toBe(false);
    const lenient = loadConfig({ NODE_ENV: 'test', PRIMERO_URL: 'https://p.example.org', PRIMERO_USER: 'u', PRIMERO_PASSWORD: 'p', DATA_KEY: keyText });
    expect(lenient.ok && codecFromConfig(lenient.config).openValue(old, 'anything')).toBe('tel:+1');
  });

  it("binds a payload's plain fields: a flipped routing field or a blob moved to another job does not open", () => {
    const codec = new PayloadCodec(new Sealer(keyA));
    const psea = codec.encode({ reference: 'PSEA2345', sensitive: true, mergeInto: null, urn: 'tel:+1', text: 'he asked for sex for food' }, ['urn', 'text'], 'job:intake');
    expect(codec.decode(psea, 'job:intake')).toMatchObject({ sensitive: true, text: 'he asked for sex for food' });
    // Routed to general triage by editing one plain field in Redis: refused.
    expect(() => codec.decode({ ...psea, sensitive: false }, 'job:intake')).toThrow();
    expect(() => codec.decode({ ...psea, mergeInto: 'OTHR2345' }, 'job:intake')).toThrow();
    const { sealed, ...plain } = psea;
    expect(() => codec.decode({ ...plain, extra: 1, sealed }, 'job:intake')).toThrow();
    // Another job of the same queue, given this job's sealed blob: refused.
    const other = codec.encode({ reference: 'OTHR2345', sensitive: true, mergeInto: null, urn: 'tel:+2', text: 'x' }, ['urn', 'text'], 'job:intake');
    expect(() => codec.decode({ ...other, sealed }, 'job:intake')).toThrow();
    // Key order is not a change.
    expect(codec.decode({ sealed, mergeInto: null, sensitive: true, reference: 'PSEA2345' }, 'job:intake')).toMatchObject({ text: 'he asked for sex for food' });
  });

  it('opens an s2 payload of the previous version only while SEAL_ACCEPT_LEGACY is true; reseal binds its fields', () => {
    const old = { reference: 'OLDP2345', sensitive: true, sealed: new Sealer(keyA).seal({ urn: 'tel:+1' }, 'job:intake') };
    const codec = new PayloadCodec(new Sealer(keyA));
    expect(codec.decode(old, 'job:intake')).toMatchObject({ urn: 'tel:+1', sensitive: true });
    expect(() => new PayloadCodec(new Sealer(keyA, [], false)).decode(old, 'job:intake')).toThrow(/SEAL_ACCEPT_LEGACY/);
    const upgraded = codec.resealPayload(old, 'job:intake')!;
    expect(upgraded.sealed).toMatch(/^s3\./);
    expect(new PayloadCodec(new Sealer(keyA, [], false)).decode(upgraded, 'job:intake')).toMatchObject({ urn: 'tel:+1' });
    expect(() => codec.decode({ ...upgraded, sensitive: false }, 'job:intake')).toThrow();
    expect(codec.resealPayload(upgraded, 'job:intake')).toBeNull();
  });

  it('seals only the personal fields of a payload', () => {
    const codec = new PayloadCodec(new Sealer(keyA));
    const stored = codec.encode({ reference: 'ABCD2345', urn: 'tel:+1', text: 'words' }, ['urn', 'text'], 'job:intake');
    expect(stored).toEqual({ reference: 'ABCD2345', sealed: expect.stringMatching(/^s3\./) });
    expect(codec.decode(stored, 'job:intake')).toEqual({ reference: 'ABCD2345', urn: 'tel:+1', text: 'words' });
    expect(() => codec.decode(stored, 'job:whatsapp-replies')).toThrow();
  });

  it('rejects keys that are not 32 bytes', () => {
    expect(() => parseDataKey('short')).toThrow(/32 bytes/);
  });
});
