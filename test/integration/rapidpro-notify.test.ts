import nock from 'nock';
import { eventually, startGateway, uniquePrefix, type Gateway } from '../support/gateway';

const RAPIDPRO = 'http://rapidpro-notify.test';
const FLOW = 'a758539d-c2da-4c70-87f9-6b002084c35f';

/*
 * An operator who imported an older notify flow (type "message") still has it: starting it would end the
 * referral or feedback run the person is answering (mailroom starts non-background flows in interrupt mode).
 */
describe('community notification flow start safeguard', () => {
  let gw: Gateway;
  const starts: Array<Record<string, unknown>> = [];
  let lookups = 0;

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    nock(RAPIDPRO)
      .persist()
      .get('/api/v2/flows.json')
      .query({ uuid: FLOW })
      .reply(() => {
        lookups++;
        return [200, { next: null, previous: null, results: [{ uuid: FLOW, name: 'Primero Gateway Case Update', type: 'message' }] }];
      })
      .post('/api/v2/flow_starts.json')
      .reply((_uri, body) => {
        starts.push(body as Record<string, unknown>);
        return [201, { uuid: '0f2a7a60-2d8e-4d2b-9f4f-5a4b7c1d9e01', status: 'pending' }];
      });
    gw = await startGateway({
      prefix: uniquePrefix('rp-notify'),
      env: { RAPIDPRO_URL: RAPIDPRO, RAPIDPRO_TOKEN: 'rapidpro-api-token-2', RAPIDPRO_NOTIFY_FLOW_UUID: FLOW, RAPIDPRO_RATE_PER_HOUR: '360000' },
    });
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('starts a non-background notify flow with exclude_active, reads the type once, and says why in the log', async () => {
    const producer = gw.services.notifications.rapidpro!;
    await producer.notify({ urn: 'tel:+250788000111', reference: 'K7M2P9QX', status: 'received' }, 'k1');
    await producer.notify({ urn: 'tel:+250788000112', reference: 'K7M2P9QY', status: 'in_progress' }, 'k2');
    await eventually(() => starts.length === 2);
    for (const body of starts) expect(body).toMatchObject({ flow: FLOW, restart_participants: true, exclude_active: true });
    expect(lookups).toBe(1);
    expect(gw.logs.text).toContain('is not a background flow');
    expect(gw.logs.text).not.toContain('250788000111');
  });
});
