import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { loadConfig } from '../../src/config';
import { startGateway, uniquePrefix } from '../support/gateway';

const ROOT = path.join(__dirname, '..', '..');

/**
 * Compose hands the api (and the workers) the admin token as the same secret file Prometheus sends to /metrics:
 * one copy to rotate, in no environment variable that `docker inspect` shows.
 */
describe('ADMIN_TOKEN_FILE', () => {
  const token = 'file-admin-token-0123456789abcdef0123';
  let dir: string;
  let file: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pmg-admin-token-'));
    file = path.join(dir, 'admin_token');
    writeFileSync(file, `${token}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const minimal = { NODE_ENV: 'test', PRIMERO_URL: 'https://primero.example.org', PRIMERO_USER: 'u', PRIMERO_PASSWORD: 'p' };

  it('guards /metrics and /admin with the token read from the file (trailing newline dropped)', async () => {
    const gw = await startGateway({ prefix: uniquePrefix('admin-token-file'), env: { ADMIN_TOKEN: '', ADMIN_TOKEN_FILE: file }, workers: false });
    try {
      expect((await request(gw.app).get('/metrics').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      expect((await request(gw.app).get('/admin/overview').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      expect((await request(gw.app).get('/admin/overview').set('Authorization', 'Bearer test-admin-token-0123456789abcdef')).status).toBe(401);
    } finally {
      await gw.close();
    }
  });

  it('refuses ADMIN_TOKEN and ADMIN_TOKEN_FILE together, naming neither value', () => {
    const loaded = loadConfig({ ...minimal, ADMIN_TOKEN: 'another-admin-token-0123456789abcdef', ADMIN_TOKEN_FILE: file });
    expect(loaded).toEqual({ ok: false, problems: ['ADMIN_TOKEN_FILE: set it or ADMIN_TOKEN, not both'] });
  });

  it('names the setting, never the token, when the file is missing, empty or holds too short a token', () => {
    expect(loadConfig({ ...minimal, ADMIN_TOKEN_FILE: path.join(dir, 'missing') })).toEqual({ ok: false, problems: ['ADMIN_TOKEN_FILE: cannot be read (ENOENT)'] });
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect(loadConfig({ ...minimal, ADMIN_TOKEN_FILE: empty })).toEqual({ ok: false, problems: ['ADMIN_TOKEN_FILE: the file is empty'] });
    const short = path.join(dir, 'short');
    writeFileSync(short, 'tiny');
    expect(loadConfig({ ...minimal, ADMIN_TOKEN_FILE: short })).toEqual({ ok: false, problems: ['ADMIN_TOKEN_FILE: must be at least 8 characters'] });
  });

  it('compose mounts the one admin_token secret into api and worker, which read it with ADMIN_TOKEN_FILE, and Prometheus sends it', () => {
    const compose = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    // Each service's block: from its two-space-indented name to the next one.
    const service = (name: string) => new RegExp(`^  ${name}:\\n((?:    .*\\n|\\s*\\n)*)`, 'm').exec(compose)?.[1] ?? '';
    for (const name of ['api', 'worker']) {
      expect(service(name)).toMatch(/^ {6}ADMIN_TOKEN_FILE: \/run\/secrets\/admin_token$/m);
      expect(service(name)).toMatch(/^ {4}secrets:\n(?: {6}- .*\n)*? {6}- admin_token$/m);
    }
    expect(service('prometheus')).toMatch(/^ {6}- admin_token$/m);
    expect(readFileSync(path.join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')).toMatch(/^\s*credentials_file: \/run\/secrets\/admin_token$/m);
  });
});
