import { readFileSync } from 'node:fs';
import path from 'node:path';
import { rapidProIdempotencyKey, rapidProToMessage, rapidProWebhookSchema } from '../../src/channels/rapidpro/parse';

const fixture = (name: string) => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'rapidpro', name), 'utf8'));
const parse = (body: unknown) => rapidProWebhookSchema.parse(body);

describe('RapidPro webhook bodies', () => {
  it("reads the editor's default body, which has no ids", () => {
    const msg = rapidProToMessage('referral', parse(fixture('webhook-body-default-editor.json')), new Date('2026-01-01T00:00:00Z'), false);
    expect(msg).toMatchObject({ channel: 'rapidpro', urn: 'tel:+250788123123', results: { age: { value: '34', category: 'Valid' } } });
    expect(msg.idempotencyKey).toMatch(/^rapidpro:referral:hash:[0-9a-f]{64}$/);
  });

  it('reads the legacy body and its run, leaving out the last input (the results carry the content)', () => {
    const msg = rapidProToMessage('referral', parse(fixture('webhook-body-legacy-full.json')), new Date(), false);
    expect(msg.text).toBeNull();
    expect(msg.language).toBe('eng');
    expect(msg.idempotencyKey).toBe('rapidpro:referral:run:01969b47-113b-76f8-95cf-9fca95f1c30a:c0781400-737f-4940-9a6c-1ec1c3df0325');
  });

  it('prefers run + node, then the input uuid, then a content hash', () => {
    const base = fixture('webhook-body-legacy-full.json');
    expect(rapidProIdempotencyKey('referral', parse({ ...base, node: 'd1aa3a56-0947-4bad-9030-16a505d51b9b' }))).toMatch(/:d1aa3a56-0947-4bad-9030-16a505d51b9b$/);
    expect(rapidProIdempotencyKey('referral', parse({ ...base, run: null }))).toBe('rapidpro:referral:input:0197b335-6ded-79a4-95a6-3af85b57f108');
  });

  it('hashes content the same whatever the key order, and differently for other answers', () => {
    const a = fixture('webhook-body-default-editor.json');
    const reordered = { results: { name: a.results.name, age: a.results.age }, flow: a.flow, contact: a.contact };
    expect(rapidProIdempotencyKey('referral', parse(reordered))).toBe(rapidProIdempotencyKey('referral', parse(a)));
    const other = { ...a, results: { ...a.results, age: { value: '35', category: 'Valid' } } };
    expect(rapidProIdempotencyKey('referral', parse(other))).not.toBe(rapidProIdempotencyKey('referral', parse(a)));
  });

  it('accepts numbers where goflow would send strings', () => {
    const a = fixture('webhook-body-default-editor.json');
    const msg = rapidProToMessage('referral', parse({ ...a, results: { age: { value: 34, category: 'Valid' } } }), new Date(), false);
    expect(msg.results.age).toEqual({ value: '34', category: 'Valid' });
  });
});
