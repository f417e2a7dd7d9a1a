import fc from 'fast-check';
import { canonicalJson } from '../../src/domain/idempotency';

/** The recursive form canonicalJson had (its output is what ledgers already hold): the reference for shallow values. */
function recursive(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(recursive).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${recursive(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

describe('canonicalJson', () => {
  it('is JSON with sorted keys for any JSON value, exactly as before', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => canonicalJson(v) === recursive(v)));
    expect(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }] })).toBe('{"a":[{"c":"x","d":null}],"b":1}');
  });

  it('writes a body nested 200,000 deep (which JSON.parse accepts) without overflowing the stack', () => {
    const text = `${'['.repeat(200_000)}{"b":1,"a":2}${']'.repeat(200_000)}`;
    const out = canonicalJson(JSON.parse(text));
    expect(out).toBe(`${'['.repeat(200_000)}{"a":2,"b":1}${']'.repeat(200_000)}`);
  });
});
