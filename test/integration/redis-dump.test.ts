import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import webpush from 'web-push';
import { FakePushService } from '../../demo/sandbox/push-service';
import { QUEUES, type QueueName } from '../../src/queues/names';
import { hasherFromConfig } from '../../src/security/identifier-hash';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway, webPushEnv } from '../support/gateway';
import { eventually } from '../support/eventually';
import { HttpRecorder } from '../support/http-recorder';
import { PRIMERO, primeroWebhookBody } from '../support/primero-fake';

/**
 * Issue #13, "a copy of Redis learns nothing": the gateway runs with DATA_KEY set and takes referrals,
 * feedback (a `sea` report among them), WhatsApp and SMS messages while Primero, the Graph API and RapidPro
 * fail, so messages sit queued, delayed and dead-lettered. Then every key and value in Redis is read and
 * searched for the people's numbers, names, words, wamids and URNs; and the hashes in that dump are shown
 * not to be recomputable from a known number with anything the dump holds.
 *
 * Payload shapes: RapidPro webhook bodies as nyaruka/goflow `flows/actions/testdata/call_webhook.json`
 * builds them (contact, flow, run, results), WhatsApp Cloud `messages` as nyaruka/courier
 * `handlers/meta/testdata/wac/hello.json` (with `from_user_id` beside `from`, as Meta's username change adds
 * it), Primero's case webhook as test/fixtures/primero says, Africa's Talking form fields as nyaruka/courier
 * `handlers/africastalking/handler_test.go` — written here, not copied.
 */
const RAPIDPRO = 'http://rapidpro.test';
const APP_SECRET = 'dump-app-secret-1';
const AT_TOKEN = 'dump-at-token-123';
const ADMIN = 'dump-admin-token-1';
const PRIMERO_KEY = 'dump-primero-webhook-key-1';
/** The operator's address, as the proxy named by TRUST_PROXY reports it. */
const CLIENT = '198.51.100.77';
/** The WhatsApp sender's Meta user id, sent beside the number (`from_user_id`). */
const USER_ID = 'UG.namuli77';

const PEOPLE = {
  created: { phone: '+256772000101', name: 'Akello Grace', words: 'my uncle takes my school fees' },
  referral: { phone: '+256772000202', name: 'Opio Daniel', words: 'a man at the market follows me home' },
  sea: { phone: '+256772000303', words: 'the aid worker asked for sex in exchange for food' },
  whatsapp: { phone: '+256772000404', name: 'Namuli Joy', words: 'help my stepfather hurts my sister' },
  sms: { phone: '+256772000505', words: 'feedback the water point has been broken for weeks' },
};

/** A wamid is base64 of a structure that starts with the sender's number, as Meta's are. */
const wamidOf = (phone: string) => `wamid.HBgM${Buffer.from(phone.slice(1)).toString('base64')}FQIAEhggN0FB${randomBytes(9).toString('hex').toUpperCase()}AA==`;

describe('a copy of Redis', () => {
  const vapid = webpush.generateVAPIDKeys();
  const contactUuids = Object.fromEntries(Object.keys(PEOPLE).map((k) => [k, randomUUID()])) as Record<keyof typeof PEOPLE, string>;
  const wamids = [wamidOf(PEOPLE.whatsapp.phone), wamidOf(PEOPLE.whatsapp.phone)];
  let gw: Gateway;
  let push: FakePushService;
  let graph: HttpRecorder;
  let primeroUp = true;

  const count = (name: QueueName, state: 'failed' | 'delayed' | 'completed') => gw.services.registry.get(name).getJobCountByTypes(state);

  function rapidpro(path: string, person: { phone: string }, uuid: string, results: Record<string, { value: string; category: string }>) {
    return request(gw.app)
      .post(path)
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({ contact: { uuid, urn: `tel:${person.phone}`, name: 'Contact Name Secret' }, flow: { uuid: randomUUID() }, run: { uuid: randomUUID() }, results });
  }

  function whatsapp(wamid: string, text: string) {
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '8856996819413533',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { phone_number_id: '1234567890' },
                contacts: [{ profile: { name: PEOPLE.whatsapp.name }, wa_id: PEOPLE.whatsapp.phone.slice(1), user_id: USER_ID }],
                messages: [{ from: PEOPLE.whatsapp.phone.slice(1), from_user_id: USER_ID, id: wamid, timestamp: '1764150000', type: 'text', text: { body: text } }],
              },
            },
          ],
        },
      ],
    });
    const signature = `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;
    return request(gw.app).post('/webhooks/whatsapp').set('X-Hub-Signature-256', signature).set('Content-Type', 'application/json').send(body);
  }

  const sms = (text: string) =>
    request(gw.app)
      .post(`/webhooks/africastalking/sms?token=${AT_TOKEN}`)
      .type('form')
      .send({ id: randomUUID(), text, from: PEOPLE.sms.phone, to: '21512', date: '2026-11-26T10:00:00Z' });

  /** Every key under the prefix with everything it holds, whatever its type. */
  async function dump(): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await gw.redis.scan(cursor, 'MATCH', `${gw.config.QUEUE_PREFIX}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        out.push(key);
        const type = await gw.redis.type(key);
        if (type === 'string') out.push((await gw.redis.get(key)) ?? '');
        else if (type === 'hash') out.push(...Object.entries(await gw.redis.hgetall(key)).flat());
        else if (type === 'list') out.push(...(await gw.redis.lrange(key, 0, -1)));
        else if (type === 'set') out.push(...(await gw.redis.smembers(key)));
        else if (type === 'zset') out.push(...(await gw.redis.zrange(key, 0, -1, 'WITHSCORES')));
        else if (type === 'stream') out.push(...(await gw.redis.xrange(key, '-', '+')).flatMap(([id, fields]) => [id, ...fields]));
        else if (type !== 'none') throw new Error(`key of unexpected type ${type}: the dump would miss it`);
      }
    } while (cursor !== '0');
    return out;
  }

  const clientDigest = createHash('sha256').update(CLIENT).digest('hex');
  const clientDigests = [clientDigest, clientDigest.slice(0, 32), clientDigest.slice(0, 24)];

  /** Searches a dump for the people's data and the client address, and for any way to recompute its hashes; returns its text. */
  function learnsNothing(stored: string[]): string {
    const text = stored.join('\n');
    const secrets: string[] = [...wamids, ...wamids.map((w) => w.slice(6, 30)), ...Object.values(contactUuids), 'Contact Name Secret', USER_ID, CLIENT, ...clientDigests];
    for (const p of Object.values(PEOPLE)) {
      secrets.push(p.phone, p.phone.slice(1), p.phone.slice(4), `tel:${p.phone}`, `whatsapp:${p.phone.slice(1)}`, p.words, p.words.slice(0, 20));
      if ('name' in p) secrets.push(p.name, p.name.split(' ')[0]!);
    }
    for (const s of secrets) expect({ secret: s, found: text.includes(s) }).toEqual({ secret: s, found: false });

    const hashes = new Set(text.match(/[0-9a-f]{24,64}/g) ?? []);
    // Nothing in it recomputes a hash: no plain hash of a known identifier, and no stored string, taken
    // as a key (raw, hex or base64), gives a keyed hash that appears in the dump.
    const identifiers = Object.values(PEOPLE).flatMap((p) => [`tel:${p.phone}`, `whatsapp:${p.phone.slice(1)}`, p.phone, p.phone.slice(1)]);
    identifiers.push(...wamids, ...wamids.map((w) => `whatsapp:${w}`), ...wamids.map((w) => `whatsapp-reply:${w}`), ...Object.values(contactUuids), `whatsapp:${USER_ID}`, CLIENT);
    const keys = new Set<string>();
    for (const s of stored) for (const part of [s, ...s.split(/[.:,"]/)]) if (part.length >= 16) keys.add(part);
    const keyBytes = [...keys].flatMap((k) => [Buffer.from(k), ...(/^[0-9a-f]+$/i.test(k) && k.length % 2 === 0 ? [Buffer.from(k, 'hex')] : []), ...(/^[A-Za-z0-9+/_-]+=*$/.test(k) ? [Buffer.from(k, 'base64')] : [])]);
    const found: string[] = [];
    for (const id of identifiers) {
      const plain = createHash('sha256').update(id).digest('hex');
      for (const h of [plain, plain.slice(0, 24), plain.slice(0, 32)]) if (hashes.has(h)) found.push(`sha256(${id})`);
      for (const key of keyBytes) {
        const keyed = createHmac('sha256', key).update(id).digest('hex');
        if (hashes.has(keyed) || hashes.has(keyed.slice(0, 24))) found.push(`hmac(${key.toString('hex').slice(0, 8)}…, ${id})`);
      }
    }
    expect(found).toEqual([]);
    return text;
  }

  beforeAll(async () => {
    push = await FakePushService.start(vapid.publicKey);
    graph = await HttpRecorder.start({ status: 500, body: '{"error":{"message":"down"}}' });
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    const records = new Map<string, Record<string, unknown>>();
    nock(PRIMERO)
      .persist()
      .post('/api/v2/cases')
      .reply((_uri, body) => {
        const data = (body as { data: Record<string, unknown> }).data;
        if (primeroUp) {
          records.set(data.id as string, { ...data, case_id_display: 'cp-dump-1' });
          return [204, ''];
        }
        // A rejection (dead letter) for referrals, an outage (retried later, so still queued) for feedback.
        return data.module_id === 'primeromodule-cp' && 'age' in data
          ? [422, { errors: [{ status: 422, resource: '/api/v2/cases', detail: 'age', message: ['is invalid'] }] }]
          : [503, {}];
      })
      // With `?fields=`: the caseworker-message detector reads a gateway record's notes on every change.
      .get(/\/api\/v2\/cases\/[0-9a-f-]+(\?.*)?$/)
      .reply((uri) => [200, { data: records.get(uri.split('/').pop()!.split('?')[0]!) ?? {} }]);
    nock(RAPIDPRO).persist().post('/api/v2/flow_starts.json').reply(503, {});
    gw = await startGateway({
      prefix: uniquePrefix('dump'),
      env: {
        DATA_KEY: randomBytes(32).toString('base64'),
        ADMIN_TOKEN: ADMIN,
        TRUST_PROXY: 'loopback',
        PRIMERO_WEBHOOK_API_KEY: PRIMERO_KEY,
        WHATSAPP_APP_SECRET: APP_SECRET,
        WHATSAPP_VERIFY_TOKEN: 'dump-verify-token',
        WHATSAPP_ACCESS_TOKEN: 'dump-graph-token',
        WHATSAPP_PHONE_NUMBER_ID: '1234567890',
        WHATSAPP_GRAPH_URL: graph.url,
        AFRICASTALKING_WEBHOOK_TOKEN: AT_TOKEN,
        RAPIDPRO_URL: RAPIDPRO,
        RAPIDPRO_TOKEN: 'dump-rapidpro-token',
        RAPIDPRO_NOTIFY_FLOW_UUID: '7c9d2f3a-1e2b-4c5d-8e9f-0a1b2c3d4e5f',
        ...webPushEnv(vapid),
        PUSH_TRIAGE_USERS: 'triage1',
        PUSH_SENSITIVE_USERS: 'psea_fp',
        PUSH_ENDPOINT_HOSTS: new URL(push.subscribe('probe').endpoint).host,
        PRIMERO_POLL_INTERVAL_SECONDS: '0',
        INTAKE_ATTEMPTS: '3',
        REPLY_ATTEMPTS: '1',
        // Retries of the outage wait long enough that those messages are still queued when Redis is read.
        RETRY_BASE_MS: '600000',
        RETRY_MAX_MS: '600000',
      },
    });
    for (const user of ['triage1', 'psea_fp']) {
      const { body } = await request(gw.app).post('/admin/enrollments').set('Authorization', `Bearer ${ADMIN}`).send({ user_name: user });
      expect((await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription: push.subscribe(user), language: 'eng' })).status).toBe(201);
    }
  });

  afterAll(async () => {
    await gw.close();
    await push.stop();
    await graph.stop();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('holds none of their numbers, names, words, wamids or URNs, and no key that recomputes its hashes', async () => {
    // One case is created first, so reference links, sender indexes, traces and flow starts exist too.
    const created = await rapidpro('/webhooks/rapidpro/referral', PEOPLE.created, contactUuids.created, {
      name: { value: PEOPLE.created.name, category: 'All Responses' },
      concern: { value: PEOPLE.created.words, category: 'All Responses' },
      // A clear yes: only then is the sender told a caseworker will contact them (a flow start is queued).
      consent: { value: 'Yes', category: 'Yes' },
    });
    await eventually(() => gw.references.get(created.body.reference));
    await eventually(async () => (await count(QUEUES.rapidproNotify, "failed")) >= 1);
    primeroUp = false;

    expect(
      (
        await rapidpro('/webhooks/rapidpro/referral', PEOPLE.referral, contactUuids.referral, {
          name: { value: PEOPLE.referral.name, category: 'All Responses' },
          age: { value: '13', category: 'Valid' },
          concern: { value: PEOPLE.referral.words, category: 'All Responses' },
        })
      ).status,
    ).toBe(202);
    for (const words of [PEOPLE.sea.words, `${PEOPLE.sea.words}, again`]) {
      const sea = await rapidpro('/webhooks/rapidpro/feedback', PEOPLE.sea, contactUuids.sea, {
        category: { value: '4', category: 'sea' },
        description: { value: words, category: 'All Responses' },
        callback: { value: 'no', category: 'No' },
      });
      expect(sea.status).toBe(202);
    }
    for (const [i, wamid] of wamids.entries()) expect((await whatsapp(wamid, i === 0 ? PEOPLE.whatsapp.words : 'STOP')).status).toBe(200);
    expect((await sms(PEOPLE.sms.words)).status).toBe(200);

    await eventually(async () => (await count(QUEUES.intake, 'failed')) >= 1 && (await count(QUEUES.intake, 'delayed')) >= 1 && (await count(QUEUES.whatsappReplies, 'failed')) >= 1);
    expect(await gw.services.contacts.isOptedOut(`whatsapp:${PEOPLE.whatsapp.phone.slice(1)}`)).toBe(true);

    // A Primero webhook for the case (snapshot and sightings keys), and an operator who mistypes the token
    // once before logging in (login-throttle and session keys).
    const recordId = (await gw.references.get(created.body.reference))!.caseId;
    const update = primeroWebhookBody('full', recordId, new Date().toISOString(), { case_id_display: 'cp-dump-1' });
    expect((await request(gw.app).post('/webhooks/primero').set('x-api-key', PRIMERO_KEY).type('json').send(JSON.stringify(update))).status).toBe(202);
    const login = (token: string) => request(gw.app).post('/admin/queues/login').set('X-Forwarded-For', CLIENT).type('form').send({ token });
    expect((await login('not-the-admin-token')).status).toBe(401);
    expect((await login(ADMIN)).status).toBe(303);
    const prefix = gw.config.QUEUE_PREFIX;
    await eventually(async () => (await gw.redis.exists(`${prefix}:gw:snapshot:${recordId}`, `${prefix}:gw:poll:webhook-seen`)) === 2);

    const stored = await dump();
    // What the dump must cover for the search to mean something: the people's sealed data and their indexes.
    const kinds = [':gw:ref:', ':gw:contact-refs:', ':gw:optout', ':gw:feedback-window:', ':gw:push:user:', ':gw:accepted:', ':whatsapp-replies:', ':rapidpro-notify:'];
    kinds.push(':gw:urn-link:', ':gw:urn-link-urns', ':gw:admin-login-failures:', ':gw:admin-session:', ':gw:snapshot:', ':gw:poll:webhook-seen');
    for (const kind of kinds) expect({ kind, present: stored.some((s) => s.includes(kind)) }).toEqual({ kind, present: true });
    expect(stored).toContain(`${prefix}:gw:optout-urns`);
    const text = learnsNothing(stored);
    // The dump has hashes of these people in it (the check is not vacuous).
    const hashes = new Set(text.match(/[0-9a-f]{24,64}/g) ?? []);
    const withKey = hasherFromConfig(gw.config);
    expect(hashes.has(withKey.hash(`tel:${PEOPLE.created.phone}`))).toBe(true);
    expect(hashes.has(withKey.hash(`whatsapp:${PEOPLE.whatsapp.phone.slice(1)}`))).toBe(true);
    expect(hashes.has(withKey.hash(`whatsapp:${USER_ID}`))).toBe(true);

    // Reseal rewrites what it seals and re-hashes links and opt-outs: still nothing to learn.
    expect((await gw.services.reseal.run('ops')).verified.notCurrent).toEqual([]);
    learnsNothing(await dump());
    expect(await gw.services.contacts.isOptedOut(`whatsapp:${USER_ID}`)).toBe(true);
    // After forget, what stays (the opt-out, the link) is as opaque as before.
    const forgotten = await request(gw.app).post('/admin/contacts/forget').set('Authorization', `Bearer ${ADMIN}`).send({ urn: `whatsapp:${PEOPLE.whatsapp.phone.slice(1)}` });
    expect(forgotten.status).toBe(200);
    const after = await dump();
    learnsNothing(after);
    expect(after).toContain(`${prefix}:gw:optout-urns`);

    expect(text).toMatch(/"sealed":"s3\./);
    // The operator's views show what is stored: the masked dead letters and the queue dashboard name no wamid.
    const auth = (r: request.Test) => r.set('Authorization', `Bearer ${ADMIN}`);
    const letters = (await auth(request(gw.app).get('/admin/dead-letters'))).body.dead_letters as Array<{ id: string }>;
    expect(letters.length).toBeGreaterThanOrEqual(2);
    const views = [JSON.stringify(letters)];
    for (const l of letters) views.push(JSON.stringify((await auth(request(gw.app).get(`/admin/dead-letters/${encodeURIComponent(l.id)}`))).body));
    for (const queue of [QUEUES.intake, QUEUES.whatsappReplies]) {
      for (const status of ['failed', 'delayed']) {
        const page = await auth(request(gw.app).get('/admin/queues/api/queues').query({ activeQueue: queue, status, page: 1 }));
        expect(page.status).toBe(200);
        views.push(page.text);
      }
    }
    expect(views.join('\n')).toContain('idempotencyKey');
    for (const s of [...wamids, PEOPLE.whatsapp.phone.slice(1), `tel:${PEOPLE.referral.phone}`]) expect(views.join('\n')).not.toContain(s);
    expect(gw.logs.text).not.toContain(PEOPLE.whatsapp.phone.slice(1));
    expect(gw.logs.text).not.toContain(wamids[0]);
  }, 60000);
});
