import { execFile } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import nock from 'nock';
import request from 'supertest';
import webpush from 'web-push';
import { FakePushService } from '../../demo/sandbox/push-service';
import { legacyHashKeyProblem } from '../../src/security/legacy-hash-key';
import { shippedMappings, startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway, webPushEnv } from '../support/gateway';
import { PRIMERO } from '../support/primero-fake';
import { eventually } from '../support/eventually';

const ADMIN = 'admin-token-rotation-1';
const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('base64');

/**
 * Issue #13 item 3: a DATA_KEY rotation, finished by `npm run admin -- reseal` and the removal of the old
 * key, leaves intake working — a new case is created, referred, and the caseworker's device is alerted.
 * Without the reseal, a device sealed under the removed key is skipped and counted, never fatal to intake.
 */
describe('DATA_KEY rotation', () => {
  const vapid = webpush.generateVAPIDKeys();
  let push: FakePushService;
  const referred: string[] = [];
  const started: Gateway[] = [];

  const env = (keys: Record<string, string>) => ({
    ADMIN_TOKEN: ADMIN,
    ...webPushEnv(vapid),
    PUSH_TRIAGE_USERS: 'triage1',
    PRIMERO_POLL_INTERVAL_SECONDS: '0',
    // Ignored by today's config; names the local push service once endpoint hosts are restricted.
    PUSH_ENDPOINT_HOSTS: new URL(push.subscribe('probe').endpoint).host,
    ...keys,
  });

  /** One more process on the same Redis prefix, as a restart with a new configuration would be. */
  async function gatewayWith(prefix: string, keys: Record<string, string>, workers: boolean): Promise<Gateway> {
    const mappings = shippedMappings();
    mappings.set('referral', { ...mappings.get('referral')!, referral: { transitioned_to: 'cp_caseworker', service: 'psychosocial_service', notes: 'From SMS intake' } });
    const gw = await startGateway({ prefix, workers, env: env(keys), mappings });
    started.unshift(gw);
    return gw;
  }

  async function enroll(gw: Gateway, user: string, device: string): Promise<void> {
    const { body } = await request(gw.app).post('/admin/enrollments').set('Authorization', `Bearer ${ADMIN}`).send({ user_name: user });
    const res = await request(gw.app).post('/push/subscriptions').send({ enrollment_token: body.token, subscription: push.subscribe(device), language: 'eng' });
    expect(res.status).toBe(201);
  }

  async function referral(gw: Gateway): Promise<string> {
    const res = await request(gw.app)
      .post('/webhooks/rapidpro/referral')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({
        contact: { uuid: randomUUID(), urn: 'tel:+256700111222' },
        flow: { uuid: randomUUID() },
        run: { uuid: randomUUID() },
        results: {
          name: { value: 'Rotation Child', category: 'All Responses' },
          age: { value: '12', category: 'Valid' },
          concern: { value: 'words', category: 'All Responses' },
          consent: { value: 'yes', category: 'Yes' },
        },
      });
    expect(res.status).toBe(202);
    return res.body.reference as string;
  }

  function reseal(gw: Gateway, keys: Record<string, string>) {
    const cliEnv = { ...process.env, REDIS_URL: gw.config.REDIS_URL, QUEUE_PREFIX: gw.config.QUEUE_PREFIX, DATA_KEY: '', DATA_KEY_PREVIOUS: '', ...keys };
    return promisify(execFile)('npx', ['tsx', 'src/cli/admin.ts', 'reseal', '--actor', 'ops'], { env: cliEnv, cwd: `${__dirname}/../..` });
  }

  beforeAll(async () => {
    push = await FakePushService.start(vapid.publicKey);
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    const records = new Map<string, Record<string, unknown>>();
    nock(PRIMERO)
      .persist()
      .post('/api/v2/cases', (b: { data: Record<string, unknown> }) => {
        records.set(b.data.id as string, { ...b.data, case_id_display: `cp-r${records.size}` });
        return true;
      })
      .reply(204)
      .get(/\/api\/v2\/cases\/[0-9a-f-]+$/)
      .reply((uri) => [200, { data: records.get(uri.split('/').pop()!) ?? {} }])
      .get(/\/api\/v2\/cases\/[0-9a-f-]+\/referrals$/)
      .reply(200, { data: [] })
      .post(/\/api\/v2\/cases\/[0-9a-f-]+\/referrals$/)
      .reply((uri) => {
        referred.push(uri.split('/')[4]!);
        return [200, { data: {} }];
      });
  });

  afterAll(async () => {
    for (const gw of started) await gw.close();
    await push.stop();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('rotate, reseal, remove the old key: a new case is created, referred and alerted', async () => {
    const prefix = uniquePrefix('rotate');
    await enroll(await gatewayWith(prefix, { DATA_KEY: OLD_KEY }, false), 'triage1', 'resealed-phone');

    const { stdout } = await reseal(started[0]!, { DATA_KEY: NEW_KEY, DATA_KEY_PREVIOUS: OLD_KEY });
    const report = JSON.parse(stdout);
    expect(report.pushSubscriptions).toEqual({ resealed: 1, current: 0, unreadable: [] });
    // Nothing is left that only the old key opens: running it again finds everything current.
    const again = JSON.parse((await reseal(started[0]!, { DATA_KEY: NEW_KEY })).stdout);
    expect(again.pushSubscriptions).toEqual({ resealed: 0, current: 1, unreadable: [] });

    const gw = await gatewayWith(prefix, { DATA_KEY: NEW_KEY }, true);
    const reference = await referral(gw);
    const link = await eventually(async () => {
      const l = await gw.references.get(reference);
      return l?.steps.referredAt ? l : null;
    });
    expect(referred).toContain(link.caseId);
    await eventually(() => push.deliveries.find((d) => d.device === 'resealed-phone'));
    expect(await gw.queue.getFailedCount()).toBe(0);
  }, 30000);

  it('without the reseal, a device sealed under the removed key is skipped and counted; the case is still referred', async () => {
    const prefix = uniquePrefix('rotate-lost');
    const before = await gatewayWith(prefix, { DATA_KEY: OLD_KEY }, false);
    await enroll(before, 'triage1', 'lost-phone');
    const stranded = await referral(before);
    const gw = await gatewayWith(prefix, { DATA_KEY: NEW_KEY }, true);

    // The message queued under the removed key cannot open on any retry: a dead letter at once, with the reason.
    const job = await eventually(async () => ((await gw.queue.getJobState(`m-${stranded}`)) === 'failed' ? gw.queue.getJob(`m-${stranded}`) : null));
    expect(job!.failedReason).toMatch(/^the stored payload cannot be opened: sealed with key [0-9a-f]{8}, which is not configured/);
    expect(job!.attemptsMade).toBe(1);

    const reference = await referral(gw);
    const link = await eventually(async () => {
      const l = await gw.references.get(reference);
      return l?.steps.referredAt ? l : null;
    });
    expect(referred).toContain(link.caseId);
    await eventually(async () => (await gw.queue.getCompletedCount()) >= 1);
    expect(await gw.queue.getFailedCount()).toBe(1);
    expect(push.deliveries.find((d) => d.device === 'lost-phone')).toBeUndefined();

    // Not everything is under the current key: the CLI says so and exits non-zero, so a script stops there.
    const failed = (await reseal(gw, { DATA_KEY: NEW_KEY }).then(
      () => null,
      (err: { code: number; stdout: string }) => err,
    ))!;
    expect(failed.code).toBe(1);
    const report = JSON.parse(failed.stdout);
    expect(report.verified.notCurrent).toEqual(expect.arrayContaining([`job intake.m-${stranded}`, expect.stringMatching(/^push subscription triage1\//)]));
    expect(report.pushSubscriptions.unreadable).toEqual([expect.stringMatching(/^triage1\/[0-9a-f]{32}$/)]);
    expect(report.pushSubscriptions.resealed).toBe(0);
    expect(report.jobs.unreadable).toEqual([`intake.m-${stranded}`]);
  }, 30000);

  it('HASH_KEY rotation, from the key earlier versions kept in Redis: opt-outs and references are still found', async () => {
    const prefix = uniquePrefix('rotate-hash');
    const legacy = randomBytes(32).toString('hex');
    const linked = 'tel:+256700333444';
    const unlinked = 'tel:+256700555666';
    const optedOutNow = 'tel:+256700777888';
    const first = await gatewayWith(prefix, { DATA_KEY: NEW_KEY }, false);
    // Opted out through this version (hash key derived from DATA_KEY): no reference link names this person.
    await first.services.contacts.optOut(optedOutNow);
    // What an earlier version left: its hash key in Redis, and opt-outs hashed with it.
    const legacyHash = (urn: string) => createHmac('sha256', Buffer.from(legacy, 'hex')).update(urn).digest('hex').slice(0, 24);
    await first.redis.set(`${prefix}:gw:urn-hash-key`, legacy);
    await first.redis.sadd(`${prefix}:gw:optout`, legacyHash(linked), legacyHash(unlinked));
    await first.references.saveLink({ reference: 'HASH2222', recordType: 'case', caseId: randomUUID(), caseIdDisplay: null, urn: linked, channel: 'rapidpro', intent: 'referral', sensitive: false, createdAt: new Date().toISOString(), steps: {} });

    const HASH_KEY = randomBytes(32).toString('base64');
    const rotated = await gatewayWith(prefix, { DATA_KEY: NEW_KEY, HASH_KEY, HASH_KEY_PREVIOUS: legacy }, false);
    expect(await rotated.services.contacts.isOptedOut(linked)).toBe(true);
    expect(await rotated.services.contacts.isOptedOut(unlinked)).toBe(true);
    const report = await rotated.services.reseal.run('ops');
    expect(report).toMatchObject({ sendersReindexed: 1, optOutsMigrated: 1, legacyHashKeyRemoved: true, optOuts: { rehashed: 1, unreadable: [] }, verified: { notCurrent: [] } });
    expect(await rotated.redis.exists(`${prefix}:gw:urn-hash-key`)).toBe(0);

    // With every previous hash key gone, the person a link names and the one opted out through this version
    // (their URN sealed beside the opt-out, re-hashed by reseal) are still opted out; forget still finds the first.
    const after = await gatewayWith(prefix, { DATA_KEY: NEW_KEY, HASH_KEY }, false);
    expect(await after.services.contacts.isOptedOut(linked)).toBe(true);
    expect(await after.services.contacts.isOptedOut(optedOutNow)).toBe(true);
    expect(await after.services.contacts.referencesOf(linked)).toEqual(['HASH2222']);
    // An opt-out recorded before this version has no sealed URN: it is honoured while HASH_KEY_PREVIOUS keeps its key.
    const kept = await gatewayWith(prefix, { DATA_KEY: NEW_KEY, HASH_KEY, HASH_KEY_PREVIOUS: legacy }, false);
    expect(await kept.services.contacts.isOptedOut(unlinked)).toBe(true);
  });

  it('HASH_KEY rotation: a WhatsApp STOP said under the number still holds for the user id alone once the old key is gone', async () => {
    const prefix = uniquePrefix('rotate-link');
    // A Cloud API sender named by both `from` and `from_user_id` (shape: nyaruka/courier handlers/whatsapp testdata).
    const number = 'whatsapp:256700999111';
    const userId = 'whatsapp:US.13491208655302741918';
    const OLD_HASH = randomBytes(32).toString('base64');
    const HASH_KEY = randomBytes(32).toString('base64');
    const first = await gatewayWith(prefix, { DATA_KEY: NEW_KEY, HASH_KEY: OLD_HASH }, false);
    await first.services.contacts.link(number, [userId]);
    await first.services.contacts.optOut(number);

    const rotated = await gatewayWith(prefix, { DATA_KEY: NEW_KEY, HASH_KEY, HASH_KEY_PREVIOUS: OLD_HASH }, false);
    const report = await rotated.services.reseal.run('ops');
    expect(report).toMatchObject({ optOuts: { rehashed: 2, unreadable: [] }, links: { rehashed: 2, unreadable: [] }, verified: { notCurrent: [] } });

    const after = await gatewayWith(prefix, { DATA_KEY: NEW_KEY, HASH_KEY }, false);
    expect(await after.services.contacts.isOptedOut(userId)).toBe(true);
    expect(await after.services.contacts.isOptedOut(number)).toBe(true);
    // The link itself follows the key: an opt-in said under the user id also clears the number.
    await after.services.contacts.optIn(userId);
    expect(await after.services.contacts.isOptedOut(number)).toBe(false);
  });

  it('DATA_KEY rotation with HASH_KEY unset (development): an opt-out survives the removal of the old DATA_KEY', async () => {
    const prefix = uniquePrefix('rotate-derived');
    const urn = 'tel:+256700999000';
    await (await gatewayWith(prefix, { DATA_KEY: OLD_KEY }, false)).services.contacts.optOut(urn);
    const rotated = await gatewayWith(prefix, { DATA_KEY: NEW_KEY, DATA_KEY_PREVIOUS: OLD_KEY }, false);
    expect((await rotated.services.reseal.run('ops')).optOuts).toEqual({ rehashed: 1, current: 0, unreadable: [] });
    const after = await gatewayWith(prefix, { DATA_KEY: NEW_KEY }, false);
    expect(await after.services.contacts.isOptedOut(urn)).toBe(true);
  });

  it('an unconfigured hash key left in Redis by an earlier version stops the start and is never deleted', async () => {
    const prefix = uniquePrefix('rotate-legacy');
    const legacy = randomBytes(32).toString('hex');
    const gw = await gatewayWith(prefix, { DATA_KEY: NEW_KEY, HASH_KEY: randomBytes(32).toString('base64') }, false);
    await gw.redis.set(`${prefix}:gw:urn-hash-key`, legacy);
    expect(await legacyHashKeyProblem(gw.config)).toMatch(/^HASH_KEY_PREVIOUS: Redis holds the hash key of an earlier version/);
    const report = await gw.services.reseal.run('ops');
    expect(report.legacyHashKeyRemoved).toBe(false);
    expect(report.verified.notCurrent).toEqual([expect.stringMatching(/urn-hash-key\) is not configured/)]);
    expect(await gw.redis.get(`${prefix}:gw:urn-hash-key`)).toBe(legacy);
    // The process itself refuses to start, naming the setting and no value.
    const env = { ...process.env, ...Object.fromEntries(Object.entries(gw.config).filter(([, v]) => typeof v === 'string' || typeof v === 'number').map(([k, v]) => [k, String(v)])) };
    const failed = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], { env, cwd: `${__dirname}/../..` }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('HASH_KEY_PREVIOUS: Redis holds the hash key of an earlier version');
    expect(failed?.stderr).not.toContain(legacy);
  }, 30000);
});
