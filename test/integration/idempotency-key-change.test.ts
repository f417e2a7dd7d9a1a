import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { sha256Hex } from '../../src/domain/idempotency';
import { rapidProIdempotencyKey, rapidProWebhookSchema } from '../../src/channels/rapidpro/parse';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';

/**
 * Review of #13, finding 1: after a hash-key change (HASH_KEY rotated, DATA_KEY rotated with HASH_KEY
 * unset, or the upgrade from versions that deduplicated through BullMQ) a re-delivery inside the
 * idempotency window is still recognised: it answers the first reference and stores no second job.
 * No workers run: what is checked is what the sender is told and what is queued.
 */
const key = () => randomBytes(32).toString('base64');

const referralBody = () => ({
  contact: { uuid: randomUUID(), urn: 'tel:+254700333444', language: 'eng' },
  flow: { uuid: '2b6e8c4e-8f65-4c1e-9a56-0a4b6f3f2d11', name: 'Primero Gateway Referral' },
  run: { uuid: randomUUID() },
  node: 'd1aa3a56-0947-4bad-9030-16a505d51b9b',
  results: { name: { value: 'Test Child', category: 'All Responses' }, consent: { value: 'yes', category: 'Yes' } },
});

const post = (gw: Gateway, body: unknown) =>
  request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(JSON.stringify(body));

const queued = async (gw: Gateway) => Object.values(await gw.queue.getJobCounts('waiting', 'delayed', 'active', 'failed', 'completed')).reduce((a, b) => a + b, 0);

describe('a re-delivery after a hash-key change', () => {
  const open: Gateway[] = [];
  const gateway = async (prefix: string, env: Record<string, string>) => {
    const gw = await startGateway({ prefix, env, workers: false });
    open.unshift(gw);
    return gw;
  };
  afterEach(async () => {
    for (const gw of open.splice(0)) await gw.close();
  });

  it.each([
    ['HASH_KEY rotated', (a: string, b: string): Array<Record<string, string>> => [{ HASH_KEY: a }, { HASH_KEY: b, HASH_KEY_PREVIOUS: a }]],
    ['DATA_KEY rotated, HASH_KEY unset', (a: string, b: string): Array<Record<string, string>> => [{ DATA_KEY: a }, { DATA_KEY: b, DATA_KEY_PREVIOUS: a }]],
  ])('%s: answers the first reference and queues nothing more', async (_name, envs) => {
    const prefix = uniquePrefix('idem-rotate');
    const [before, after] = envs(key(), key());
    const body = referralBody();
    const first = await post(await gateway(prefix, before!), body);
    expect(first.status).toBe(202);
    const restarted = await gateway(prefix, after!);
    const again = await post(restarted, body);
    expect(again.body).toEqual({ status: 'accepted', reference: first.body.reference, duplicate: true });
    expect(await queued(restarted)).toBe(1);
  });

  it.each([
    ['sha256 of the raw id (before #13)', (raw: string) => sha256Hex(raw)],
    ['keyed hash of the raw id (#13, before the ledger)', (raw: string, hashKey: Buffer) => createHmac('sha256', hashKey).update(raw, 'utf8').digest('hex')],
  ])("the upgrade: an older version's BullMQ deduplication key (%s) counts as accepted", async (_name, idOf) => {
    const hashKey = randomBytes(32);
    const gw = await gateway(uniquePrefix('idem-legacy'), { HASH_KEY: hashKey.toString('base64') });
    const body = referralBody();
    const raw = rapidProIdempotencyKey('referral', rapidProWebhookSchema.parse(body));
    // What the old producer left: BullMQ's `<prefix>:<queue>:de:<id>` → job id, for the idempotency window.
    await gw.redis.set(`${gw.queue.qualifiedName}:de:${idOf(raw, hashKey)}`, 'm-ABCD2345', 'PX', 3_600_000);
    const again = await post(gw, body);
    expect(again.body).toEqual({ status: 'accepted', reference: 'ABCD2345', duplicate: true });
    expect(await queued(gw)).toBe(0);
    // Another message is not mistaken for it.
    expect((await post(gw, referralBody())).body.duplicate).toBe(false);
  });
});
