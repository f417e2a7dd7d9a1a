import { randomBytes, randomUUID } from 'node:crypto';
import nock from 'nock';
import request from 'supertest';
import { startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { acceptingPrimero } from '../support/primero-fake';

/**
 * Review of #13, finding 3: a job's seal authenticates its plain routing fields. Someone with write access
 * to Redis who flips a PSEA report's `sensitive` to false (to route it to general triage), or who puts its
 * sealed blob into another job, gets a dead letter with its reason — never a record in Primero.
 * Body shape: nyaruka/goflow `flows/actions/testdata/call_webhook.json` (contact without urn).
 */
const DATA_KEY = randomBytes(32).toString('base64');

describe('a sealed job whose plain fields were changed', () => {
  const open: Gateway[] = [];
  afterEach(async () => {
    for (const gw of open.splice(0)) await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  const feedback = (gw: Gateway, category: string, words: string) =>
    request(gw.app)
      .post('/webhooks/rapidpro/feedback')
      .set('Authorization', `Token ${WEBHOOK_TOKEN}`)
      .type('json')
      .send({
        contact: { uuid: randomUUID() },
        flow: { uuid: randomUUID() },
        run: { uuid: randomUUID() },
        results: { category: { value: category, category }, description: { value: words, category: 'All Responses' }, callback: { value: 'no', category: 'No' } },
      });

  it('does not open: flipped `sensitive`, or another job given its blob, dead-letters and creates nothing', async () => {
    const prefix = uniquePrefix('sealed-routing');
    const api = await startGateway({ prefix, env: { DATA_KEY }, workers: false });
    open.unshift(api);
    const psea = (await feedback(api, 'sea', 'the distributor asked me for sex for food')).body.reference as string;
    const plain = (await feedback(api, 'complaint', 'the pump is broken')).body.reference as string;
    const pseaJob = (await api.queue.getJob(`m-${psea}`))!;
    const plainJob = (await api.queue.getJob(`m-${plain}`))!;
    expect(pseaJob.data.sensitive).toBe(true);
    await pseaJob.updateData({ ...pseaJob.data, sensitive: false });
    await plainJob.updateData({ ...plainJob.data, sealed: pseaJob.data.sealed });

    const created = acceptingPrimero('cp-never');
    const workers = await startGateway({ prefix, env: { DATA_KEY } });
    open.unshift(workers);
    for (const reference of [psea, plain]) {
      const job = await eventually(async () => ((await workers.queue.getJobState(`m-${reference}`)) === 'failed' ? workers.queue.getJob(`m-${reference}`) : null));
      expect(job!.failedReason).toMatch(/^the stored payload cannot be opened/);
    }
    expect(created).toEqual([]);
  }, 20000);
});
