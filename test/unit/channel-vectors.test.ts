import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CHANNELS } from '../../src/channels/index';
import type { ChannelVector, ChannelVectors } from '../../src/channels/vector';

/** Every channel's src/channels/<name>/vectors.ts, found by the index: a new channel's rows run without touching this file. */
const isChannelVectors = (v: unknown): v is ChannelVectors => typeof v === 'object' && v !== null && 'parse' in v && typeof v.parse === 'function' && 'rows' in v && Array.isArray(v.rows);

function vectorsOf(channel: string): ChannelVectors {
  // Synchronous, because it.each needs the rows while the tests are collected; the path comes from the index.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded: unknown = require(path.join(__dirname, '..', '..', 'src', 'channels', channel, 'vectors')).channelVectors;
  if (!isChannelVectors(loaded)) throw new Error(`src/channels/${channel}/vectors.ts must export channelVectors: { parse, rows }`);
  return loaded;
}

function bodyOf(body: ChannelVector['body']): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if ('fixture' in body && typeof body.fixture === 'string') {
    const bytes = readFileSync(path.join(__dirname, '..', 'fixtures', body.fixture));
    // A form fixture is one line ending in the newline an editor adds and no provider sends.
    return body.fixture.endsWith('.form') ? Buffer.from(bytes.toString('utf8').trim(), 'utf8') : bytes;
  }
  return Buffer.from(JSON.stringify(body), 'utf8');
}

describe.each(CHANNELS.map((c) => c.name))('%s test vectors', (channel) => {
  const { parse, rows } = vectorsOf(channel);

  it('has rows', () => {
    expect(rows.length).toBeGreaterThan(0);
  });

  it.each(rows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    const parsed = parse({ body: bodyOf(row.body), headers: row.headers ?? {}, query: row.query ?? {}, pathParams: row.pathParams ?? {}, now: new Date(row.now ?? '2026-12-01T12:00:00Z') });
    const { expected } = row;
    if (expected.outcome === 'rejected') {
      expect(parsed.ok ? 'accepted' : { status: parsed.rejection.status, code: parsed.rejection.code }).toEqual({ status: expected.status, code: expected.code });
      if (!parsed.ok && expected.paths) expect(parsed.rejection.details.map((d) => d.path)).toEqual(expected.paths);
      return;
    }
    if (!parsed.ok) throw new Error(`refused with ${parsed.rejection.status} ${parsed.rejection.code}`);
    expect(parsed.value.messages).toMatchObject(expected.messages);
    expect(parsed.value.unreadable ?? []).toMatchObject(expected.unreadable ?? []);
  });
});
