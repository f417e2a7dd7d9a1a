import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configSchema } from '../../src/config';

const root = path.join(__dirname, '..', '..');
const settings = Object.keys(configSchema.shape);

describe('the documented settings', () => {
  it('.env.example lists every setting the gateway reads', () => {
    const example = readFileSync(path.join(root, '.env.example'), 'utf8');
    const listed = new Set([...example.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    expect(settings.filter((s) => !listed.has(s))).toEqual([]);
    expect([...listed].filter((s) => !settings.includes(s!))).toEqual([]);
  });

  it("the README's configuration table names every setting", () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(settings.filter((s) => !readme.includes(`\`${s}\``))).toEqual([]);
  });
});
