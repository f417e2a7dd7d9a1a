import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { configSchema, loadConfig } from '../../src/config';

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

  it('.env.example, with only what a deployment must fill in, starts (an empty value is an unset one)', () => {
    const example = readFileSync(path.join(root, '.env.example'), 'utf8');
    const env = Object.fromEntries([...example.matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
    const key = () => randomBytes(32).toString('base64');
    const result = loadConfig({
      ...env,
      NODE_ENV: 'production',
      PRIMERO_URL: 'https://primero.example.org',
      PRIMERO_USER: 'gateway',
      PRIMERO_PASSWORD: 'secret',
      RAPIDPRO_WEBHOOK_TOKEN: 'a-webhook-token-of-enough-length',
      DATA_KEY: key(),
      HASH_KEY: key(),
    });
    expect(result.ok ? [] : result.problems).toEqual([]);
  });
});
