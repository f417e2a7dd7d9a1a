import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';

const ROOT = path.join(__dirname, '..', '..');

describe('graceful shutdown', () => {
  let gw: Gateway;
  let primero: http.Server;
  let creates = 0;

  beforeAll(async () => {
    // A Primero that takes 1.5 s to create a case: long enough to send SIGTERM mid-job.
    primero = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST') {
          creates++;
          setTimeout(() => res.writeHead(204).end(), 1500);
        } else res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"data":{"case_id_display":"cp-slow"}}');
      });
    });
    await new Promise<void>((r) => primero.listen(0, '127.0.0.1', r));
    gw = await startGateway({ prefix: uniquePrefix('shutdown'), workers: false });
  });

  afterAll(async () => {
    await gw.close();
    primero.closeAllConnections();
    await new Promise((r) => primero.close(r));
  });

  it('on SIGTERM finishes the job in flight and exits within the deadline', async () => {
    const env = {
      ...process.env,
      REDIS_URL: gw.config.REDIS_URL,
      QUEUE_PREFIX: gw.config.QUEUE_PREFIX,
      PRIMERO_URL: `http://127.0.0.1:${(primero.address() as AddressInfo).port}`,
      PRIMERO_USER: 'u',
      PRIMERO_PASSWORD: 'p',
      SHUTDOWN_DEADLINE_MS: '6000',
      LOG_LEVEL: 'info',
    };
    const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['src/main.ts', 'worker'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(() => out.includes('workers started'), 15000);

    const res = await request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({ contact: { uuid: randomUUID(), urn: 'tel:+250788000777' }, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results: {} });
    await eventually(() => creates === 1, 10000);

    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    const took = Date.now() - t0;

    expect(code).toBe(0);
    expect(took).toBeLessThan(6000);
    expect(out).toContain('shutting down');
    // The job in flight was finished, not abandoned: its case link exists and the job completed.
    expect(await gw.references.get(res.body.reference)).toMatchObject({ recordType: 'case', caseId: expect.any(String) });
    expect(await gw.queue.getJobState(`m-${res.body.reference}`)).toBe('completed');
  }, 40000);
});
