import { randomBytes } from 'node:crypto';
import { PayloadCodec } from '../../src/security/payload-codec';
import { parseDataKey, Sealer } from '../../src/security/sealing';

const keyA = parseDataKey(randomBytes(32).toString('base64'));
const keyB = parseDataKey(randomBytes(32).toString('hex'));

describe('sealing personal data at rest', () => {
  it('round-trips and hides the content', () => {
    const sealer = new Sealer(keyA);
    const sealed = sealer.seal({ urn: 'tel:+250788123123' });
    expect(sealed).not.toContain('250788123123');
    expect(sealer.open(sealed)).toEqual({ urn: 'tel:+250788123123' });
  });

  it('opens what the previous key sealed after a rotation, and refuses an unknown key', () => {
    const old = new Sealer(keyA).seal('x');
    expect(new Sealer(keyB, [keyA]).open(old)).toBe('x');
    expect(() => new Sealer(keyB).open(old)).toThrow(/not configured/);
  });

  it('detects tampering', () => {
    const sealed = new Sealer(keyA).seal('secret');
    const parts = sealed.split('.');
    parts[4] = Buffer.from('tampered').toString('base64url');
    expect(() => new Sealer(keyA).open(parts.join('.'))).toThrow();
  });

  it('seals only the personal fields of a payload', () => {
    const codec = new PayloadCodec(new Sealer(keyA));
    const stored = codec.encode({ reference: 'ABCD2345', urn: 'tel:+1', text: 'words' }, ['urn', 'text']);
    expect(stored).toEqual({ reference: 'ABCD2345', sealed: expect.stringMatching(/^s1\./) });
    expect(codec.decode(stored)).toEqual({ reference: 'ABCD2345', urn: 'tel:+1', text: 'words' });
  });

  it('rejects keys that are not 32 bytes', () => {
    expect(() => parseDataKey('short')).toThrow(/32 bytes/);
  });
});
