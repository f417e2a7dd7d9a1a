import { Writable } from 'node:stream';
import { createLogger, scrub } from '../../src/logger';

describe('log redaction (the second line of defence)', () => {
  it('replaces personal and secret fields at any depth, and keeps the rest', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) });
    const logger = createLogger('info', sink);
    logger.info({ reference: 'ABCD2345', urn: 'tel:+250788123123', nested: { contact: { name: 'Amina' }, list: [{ Text: 'help me' }] }, headers: { Authorization: 'Token s3cret' } }, 'x');
    const line = JSON.parse(lines[0]!);
    expect(line.reference).toBe('ABCD2345');
    expect(line.urn).toBe('[redacted]');
    expect(line.nested.contact).toBe('[redacted]');
    expect(line.nested.list[0].Text).toBe('[redacted]');
    expect(line.headers.Authorization).toBe('[redacted]');
    expect(lines[0]).not.toMatch(/250788123123|Amina|help me|s3cret/);
  });

  it('logs errors by name and message only', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) });
    const err = Object.assign(new Error('boom'), { config: { data: '{"urn":"tel:+1"}' } });
    createLogger('info', sink).error({ err }, 'failed');
    expect(JSON.parse(lines[0]!).err).toEqual({ type: 'Error', message: 'boom' });
  });

  it('leaves scalars alone', () => {
    expect(scrub('text')).toBe('text');
    expect(scrub(3)).toBe(3);
  });
});
