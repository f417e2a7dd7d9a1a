import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import webpush from 'web-push';
import { twilioSignature } from '../../src/channels/twilio/signature';
import { startGateway, uniquePrefix, type Gateway } from '../support/gateway';

const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3000);
const SECRETS = { rapidpro: 'fuzz-rapidpro-token', twilio: 'fuzz-twilio-token', wa: 'fuzz-wa-app-secret', verify: 'fuzz-verify-token', at: 'fuzz-at-token-1234', primero: 'fuzz-primero-key-1', admin: 'fuzz-admin-token-1' };
const PUBLIC_URL = 'https://gateway.example.org';
const fixture = (f: string) => readFileSync(path.join(__dirname, '..', 'fixtures', 'rapidpro', f), 'utf8');

/** mulberry32: a seeded generator, so a failing run can be replayed with FUZZ_SEED. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fuzzing every inbound route', () => {
  let gw: Gateway;
  let server: http.Server;
  const vapid = webpush.generateVAPIDKeys();

  beforeAll(async () => {
    gw = await startGateway({
      prefix: uniquePrefix('fuzz'),
      workers: false,
      env: {
        LOG_LEVEL: 'debug',
        PUBLIC_URL,
        RAPIDPRO_WEBHOOK_TOKEN: SECRETS.rapidpro,
        TWILIO_AUTH_TOKEN: SECRETS.twilio,
        WHATSAPP_APP_SECRET: SECRETS.wa,
        WHATSAPP_VERIFY_TOKEN: SECRETS.verify,
        AFRICASTALKING_WEBHOOK_TOKEN: SECRETS.at,
        PRIMERO_WEBHOOK_API_KEY: SECRETS.primero,
        ADMIN_TOKEN: SECRETS.admin,
        // Each admin request comes from its own address (X-Forwarded-For), so the token throttle does not answer 429 to all of them.
        TRUST_PROXY: 'loopback',
        VAPID_PUBLIC_KEY: vapid.publicKey,
        VAPID_PRIVATE_KEY: vapid.privateKey,
        VAPID_SUBJECT: 'mailto:fuzz@example.org',
      },
    });
    server = gw.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await gw.close();
  });

  it(`answers ${REQUESTS} random and mutated requests with 2xx/4xx only, stays up, and logs none of the input`, async () => {
    const random = rng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    let n = 0;
    const canary = () => `CANARY${++n}x`;
    const randomString = () => pick([canary(), `${canary()} ${'é'.repeat(Math.floor(random() * 5))}`, `\u0000${canary()}`, `<script>${canary()}</script>`, canary().repeat(Math.floor(random() * 50) + 1)]);
    // Header values must be printable: no NUL, no newlines, nothing outside Latin-1.
    const headerString = () => pick([canary(), `${canary()} ; = "x"`, `sha256=${canary()}`, canary().repeat(Math.floor(random() * 30) + 1)]);
    const randomValue = (depth = 0): unknown => {
      const r = random();
      if (depth > 3 || r < 0.3) return randomString();
      if (r < 0.4) return Math.floor(random() * 1e9) - 5e8;
      if (r < 0.45) return null;
      if (r < 0.5) return random() < 0.5;
      if (r < 0.7) return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [pick(['contact', 'urn', 'uuid', 'results', 'flow', 'run', 'data', 'entry', 'value', randomString()]), randomValue(depth + 1)]));
    };
    /** Walks a valid body and replaces, deletes or retypes some of its values. */
    const mutate = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.filter(() => random() > 0.1).map(mutate);
      if (v && typeof v === 'object') {
        const out: Record<string, unknown> = {};
        for (const [k, val] of Object.entries(v)) {
          const r = random();
          if (r < 0.08) continue;
          out[r < 0.12 ? randomString() : k] = r < 0.3 ? randomValue() : mutate(val);
        }
        return out;
      }
      return random() < 0.3 ? randomValue() : typeof v === 'string' ? `${v}${random() < 0.5 ? canary() : ''}` : v;
    };
    const seeds = [fixture('webhook-body-default-editor.json'), fixture('webhook-body-legacy-full.json'), fixture('whatsapp-cloud-inbound-text.json')].map((s) => JSON.parse(s) as unknown);
    const body = (): string => {
      const r = random();
      if (r < 0.1) return Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256))).toString('latin1');
      if (r < 0.2) return JSON.stringify(randomValue()).slice(0, Math.floor(random() * 400));
      if (r < 0.3) return new URLSearchParams(Array.from({ length: 6 }, (): [string, string] => [pick(['Body', 'From', 'To', 'MessageSid', 'id', 'text', 'from', 'to', randomString()]), randomString()])).toString();
      if (r < 0.32) return `{"a":"${'x'.repeat(300 * 1024)}"}`;
      return JSON.stringify(mutate(pick(seeds)));
    };

    const routes = [
      ['POST', '/webhooks/rapidpro/referral'],
      ['POST', '/webhooks/rapidpro/feedback'],
      ['POST', '/webhooks/twilio/sms'],
      ['GET', '/webhooks/whatsapp'],
      ['POST', '/webhooks/whatsapp'],
      ['POST', '/webhooks/africastalking/sms'],
      ['POST', '/webhooks/primero'],
      ['POST', '/push/subscriptions'],
      ['DELETE', '/push/subscriptions'],
      ['POST', '/admin/enrollments'],
      ['POST', '/admin/dead-letters/replay'],
      ['POST', '/admin/contacts/forget'],
    ] as const;
    const contentTypes = [undefined, 'application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'application/json; charset=latin1'];
    const { port } = server.address() as AddressInfo;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const statuses = new Map<number, number>();
    const fivexx: string[] = [];

    const send = (i: number) =>
      new Promise<void>((resolve) => {
        const [method, route] = pick(routes);
        const payload = method === 'GET' ? '' : body();
        const headers: Record<string, string> = {};
        const ct = pick(contentTypes);
        if (ct) headers['Content-Type'] = ct;
        let query = '';
        // Valid credentials often enough that the parsing paths behind them are exercised.
        const valid = random() < 0.6;
        if (route.startsWith('/webhooks/rapidpro')) {
          if (random() < 0.5) headers.Authorization = valid ? `Token ${SECRETS.rapidpro}` : `${pick(['Token', 'Bearer', ''])} ${headerString()}`;
          else query = `?token=${encodeURIComponent(valid ? SECRETS.rapidpro : randomString())}`;
        } else if (route === '/webhooks/twilio/sms') {
          headers['X-Twilio-Signature'] = valid ? twilioSignature(SECRETS.twilio, `${PUBLIC_URL}${route}`, new URLSearchParams(payload)) : headerString();
        } else if (route === '/webhooks/whatsapp') {
          if (method === 'GET') query = `?hub.mode=${encodeURIComponent(pick(['subscribe', randomString()]))}&hub.verify_token=${encodeURIComponent(valid ? SECRETS.verify : randomString())}&hub.challenge=${encodeURIComponent(randomString())}`;
          else headers['X-Hub-Signature-256'] = valid ? `sha256=${createHmac('sha256', SECRETS.wa).update(Buffer.from(payload, 'latin1')).digest('hex')}` : headerString();
        } else if (route === '/webhooks/africastalking/sms') query = `?token=${encodeURIComponent(valid ? SECRETS.at : randomString())}`;
        else if (route === '/webhooks/primero') headers['x-api-key'] = valid ? SECRETS.primero : headerString();
        else if (route.startsWith('/admin')) {
          headers.Authorization = valid ? `Bearer ${SECRETS.admin}` : headerString();
          headers['X-Forwarded-For'] = `198.18.${(i >> 8) & 255}.${i & 255}`;
        }
        if (random() < 0.05) headers['Content-Encoding'] = pick(['gzip', 'br', 'identity', headerString()]);
        if (random() < 0.05) headers[`X-${canary()}`] = headerString();
        const bytes = Buffer.from(payload, 'latin1');
        const req = http.request({ host: '127.0.0.1', port, method, path: route + query, agent, headers: { ...headers, 'Content-Length': bytes.length } }, (res) => {
          res.resume();
          res.on('end', () => {
            const s = res.statusCode ?? 0;
            statuses.set(s, (statuses.get(s) ?? 0) + 1);
            if (s >= 500) fivexx.push(`#${i} ${method} ${route} → ${s}`);
            resolve();
          });
        });
        req.on('error', () => resolve());
        req.end(bytes);
      });

    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < REQUESTS) await send(next++);
      }),
    );
    agent.destroy();

    if (fivexx.length) console.log(gw.logs.lines.filter((l) => l.includes('unhandled')).slice(0, 5).join('\n'));
    expect(fivexx).toEqual([]);
    expect([...statuses.keys()].every((s) => s >= 200 && s < 500)).toBe(true);
    expect([...statuses.keys()].some((s) => s >= 200 && s < 300)).toBe(true); // valid requests got through too
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(gw.logs.text).not.toContain('CANARY');
    console.log(`fuzz seed ${SEED}: ${[...statuses.entries()].sort(([a], [b]) => a - b).map(([s, c]) => `${s}×${c}`).join(' ')}`);
  });
});
