import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import nock from 'nock';
import { uuidV5 } from '../../src/domain/uuid';
import { PERSONAL_MESSAGE_FIELDS, sealContext } from '../../src/security/payload-codec';
import { parseDataKey, Sealer } from '../../src/security/sealing';
import { startGateway, uniquePrefix, type Gateway, TEST_REDIS_URL } from '../support/gateway';
import { eventually } from '../support/eventually';
import { acceptingPrimero } from '../support/primero-fake';

/**
 * Review of #13, findings 4 and 5: reseal never reports "all current" while old-key data or raw provider
 * ids remain, and the jobs it rewrites still create the Primero record they would have created.
 */
const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('base64');
// A WhatsApp message id as Cloud API webhooks carry it (shape: nyaruka/courier handlers/whatsapp testdata); it encodes the number.
const WAMID = 'wamid.HBgMMjU2NzAwMTExMjIyFQIAEhggQTBCMUMyRDNFNEY1QTZCN0M4RDlFMEYxQTJCM0M0RDUA';

/** An intake job as versions before #13 stored it: the raw provider id in the plain idempotencyKey, no acceptance id. */
function legacyMessage(reference: string) {
  return {
    v: 1,
    reference,
    intent: 'referral',
    channel: 'whatsapp',
    idempotencyKey: `whatsapp:${WAMID}`,
    urn: 'whatsapp:256700111222',
    contactUuid: null,
    language: 'eng',
    text: 'please help my sister',
    attachments: [],
    results: {},
    flowUuid: null,
    receivedAt: new Date().toISOString(),
    simulation: false,
    sensitive: false,
    mergeInto: null,
  };
}

describe('reseal', () => {
  const open: Gateway[] = [];
  const gateway = async (prefix: string, env: Record<string, string>, workers = false) => {
    const gw = await startGateway({ prefix, env, workers });
    open.unshift(gw);
    return gw;
  };
  afterEach(async () => {
    for (const gw of open.splice(0)) await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('refuses to run without DATA_KEY instead of counting sealed values as current', async () => {
    const prefix = uniquePrefix('reseal-nokey');
    const sealedGw = await gateway(prefix, { DATA_KEY: OLD_KEY });
    await sealedGw.queue.add('inbound-message', sealedGw.services.codec.encode(legacyMessage('NOKY2345'), PERSONAL_MESSAGE_FIELDS, sealContext.job('intake')), { jobId: 'm-NOKY2345' });
    const keyless = await gateway(prefix, {});
    await expect(keyless.services.reseal.run('ops')).rejects.toThrow(/DATA_KEY is not set/);
  });

  it('the CLI refuses the public development key outside development and test', async () => {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: uniquePrefix('reseal-cli') };
    const failed = await promisify(execFile)('npx', ['tsx', 'src/cli/admin.ts', 'reseal'], { env, cwd: `${__dirname}/../..` }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/^HASH_KEY: is required unless NODE_ENV is development or test/m);
  }, 30000);

  it('hashes the raw provider id of a job no configured key opens, and names the job as unreadable', async () => {
    const gw = await gateway(uniquePrefix('reseal-lost'), { DATA_KEY: NEW_KEY });
    const { urn, text, ...plain } = legacyMessage('LOST2345');
    // Sealed by an earlier version (s2: plain fields not bound) under a key this deployment no longer has.
    const lost = new Sealer(parseDataKey(randomBytes(32).toString('base64'))).seal({ urn, text }, sealContext.job('intake'));
    await gw.queue.add('inbound-message', { ...plain, sealed: lost }, { jobId: 'm-LOST2345', delay: 3_600_000 });
    const report = await gw.services.reseal.run('ops');
    expect(report.jobs).toMatchObject({ unreadable: ['intake.m-LOST2345'], idsHashed: 1 });
    expect(report.verified.notCurrent).toEqual(['job intake.m-LOST2345']);
    const stored = (await gw.queue.getJob('m-LOST2345'))!;
    expect(JSON.stringify(stored.data)).not.toContain(WAMID);
    expect(stored.data).toMatchObject({ idempotencyKey: gw.services.hasher.deduplicationId(plain.idempotencyKey), recordId: uuidV5(plain.idempotencyKey) });
  });

  it('replaces a raw provider id by its keyed hash and keeps the record the job creates', async () => {
    const prefix = uniquePrefix('reseal-rawid');
    const before = await gateway(prefix, { DATA_KEY: OLD_KEY });
    const old = legacyMessage('RAWI2345');
    await before.queue.add('inbound-message', before.services.codec.encode(old, PERSONAL_MESSAGE_FIELDS, sealContext.job('intake')), { jobId: 'm-RAWI2345', delay: 3_600_000 });

    const rotated = await gateway(prefix, { DATA_KEY: NEW_KEY, DATA_KEY_PREVIOUS: OLD_KEY });
    const report = await rotated.services.reseal.run('ops');
    expect(report.jobs).toMatchObject({ resealed: 1, idsHashed: 1, unreadable: [] });
    expect(report.verified.notCurrent).toEqual([]);
    const stored = (await rotated.queue.getJob('m-RAWI2345'))!;
    expect(stored.data.idempotencyKey).toBe(rotated.services.hasher.deduplicationId(old.idempotencyKey));
    expect(JSON.stringify(stored.data)).not.toContain(WAMID);

    // Run with only the new key: the job creates the record its raw id named, as it would have before.
    const created = acceptingPrimero('cp-raw');
    const after = await gateway(prefix, { DATA_KEY: NEW_KEY }, true);
    await stored.promote();
    // Both waits are on the workers this third gateway just started (a connection each, on a loaded CI machine).
    await eventually(() => created.length > 0, 15000, 'the record of the resealed job');
    expect(created[0]!.id).toBe(uuidV5(old.idempotencyKey));
    await eventually(async () => (await after.queue.getJobState('m-RAWI2345')) === 'completed', 15000, 'the resealed job to complete');
  }, 45000);
});
