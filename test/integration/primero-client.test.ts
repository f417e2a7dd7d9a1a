import nock from 'nock';
import { PrimeroClient } from '../../src/clients/primero';
import { DeliveryError } from '../../src/clients/delivery-error';
import { primeroAnswer } from '../support/primero-fake';

// The client against Primero's own error bodies (test/fixtures/primero): what each status means there decides
// whether one job fails, the queue pauses, or the call is retried.
const PRIMERO = 'http://primero-client.test';
const ID = '9f1e7c2a-3b4d-4e5f-8a6b-7c8d9e0f1a2b';
const client = new PrimeroClient({ baseUrl: PRIMERO, user: 'sms_gateway', password: 'pw', timeoutMs: 1000 });

async function failure(call: () => Promise<unknown>): Promise<DeliveryError> {
  const err = await call().then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof DeliveryError)) throw new Error(`expected a DeliveryError, got ${String(err)}`);
  return err;
}

describe('PrimeroClient classifies Primero errors by what the call targeted', () => {
  beforeAll(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  afterAll(() => nock.enableNetConnect());

  it('treats a 401 as a configuration fault, whatever the call', async () => {
    nock(PRIMERO).get(`/api/v2/cases/${ID}`).reply((uri) => primeroAnswer('unauthorized', uri));
    expect((await failure(() => client.getRecord('case', ID))).kind).toBe('configuration');
  });

  it('treats a 403 on a create or a search as the role being wrong: a configuration fault', async () => {
    nock(PRIMERO)
      .post('/api/v2/cases').reply((uri) => primeroAnswer('forbidden', uri))
      .get('/api/v2/cases').query(true).reply((uri) => primeroAnswer('forbidden', uri));
    expect((await failure(() => client.createRecord('case', { id: ID }))).kind).toBe('configuration');
    expect((await failure(() => client.listChanged('case', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 1, 10))).kind).toBe('configuration');
  });

  it.each([
    ['the read', () => client.getRecord('case', ID), nock(PRIMERO).get(`/api/v2/cases/${ID}`)],
    ['the update', () => client.updateRecord('case', ID, { x: 1 }), nock(PRIMERO).patch(`/api/v2/cases/${ID}`)],
    ['the flag', () => client.flag('case', ID, 'm', '2026-01-01'), nock(PRIMERO).post(`/api/v2/cases/${ID}/flags`)],
    ['the assignment', () => client.assign(ID, 'fp', 'n'), nock(PRIMERO).post(`/api/v2/cases/${ID}/assigns`)],
    ['the referral', () => client.refer(ID, { transitioned_to: 'cp', notes: 'n' }), nock(PRIMERO).post(`/api/v2/cases/${ID}/referrals`)],
    ['the referral list', () => client.listReferrals(ID), nock(PRIMERO).get(`/api/v2/cases/${ID}/referrals`)],
  ] as const)('fails only that job on a 403 for one record (%s): the record is out of scope', async (_what, call, interceptor) => {
    interceptor.reply((uri) => primeroAnswer('forbidden', uri));
    const err = await failure(call);
    expect(err.kind).toBe('permanent');
    expect(err.status).toBe(403);
    expect(err.message).toMatch(/^Primero refused access to the record on .+ \(403\): it is outside the API user's scope$/);
    expect(err.message).not.toContain(ID);
  });

  it('takes a read answered 200 without the record (a proxy\'s page) as a failure to retry, never as an empty record', async () => {
    nock(PRIMERO).get(`/api/v2/cases/${ID}`).query(true).reply(200, '<html>Please log in to the network</html>', { 'Content-Type': 'text/html' });
    const err = await failure(() => client.getRecord('case', ID, ['notes_section']));
    expect(err.kind).toBe('transient');
    nock(PRIMERO).get(`/api/v2/cases/${ID}`).query(true).reply(200, { data: { id: ID } });
    expect(await client.getRecord('case', ID, ['notes_section'])).toEqual({ id: ID });
  });

  it("never takes a create answered 2xx without the record (a proxy's or a captive portal's page) as made: retried", async () => {
    nock(PRIMERO).post('/api/v2/cases').reply(200, '<html>Welcome to the office network</html>', { 'Content-Type': 'text/html' });
    expect((await failure(() => client.createRecord('case', { id: ID }))).kind).toBe('transient');
    nock(PRIMERO).post('/api/v2/cases').reply(201, { data: { id: 'someone-else' } });
    expect((await failure(() => client.createRecord('case', { id: ID }))).kind).toBe('transient');
    nock(PRIMERO).post('/api/v2/cases').reply(204);
    expect(await client.createRecord('case', { id: ID })).toBe('created');
    nock(PRIMERO).post('/api/v2/cases').reply(200, { data: { id: ID } });
    expect(await client.createRecord('case', { id: ID })).toBe('created');
  });

  it.each([
    ['the update', () => client.updateRecord('case', ID, { x: 1 }), () => nock(PRIMERO).patch(`/api/v2/cases/${ID}`)],
    ['the flag', () => client.flag('case', ID, 'm', '2026-01-01'), () => nock(PRIMERO).post(`/api/v2/cases/${ID}/flags`)],
    ['the assignment', () => client.assign(ID, 'fp', 'n'), () => nock(PRIMERO).post(`/api/v2/cases/${ID}/assigns`)],
    ['the referral', () => client.refer(ID, { transitioned_to: 'cp', notes: 'n' }), () => nock(PRIMERO).post(`/api/v2/cases/${ID}/referrals`)],
    ['the flag list', () => client.listFlags('case', ID), () => nock(PRIMERO).get(`/api/v2/cases/${ID}/flags`)],
    ['the referral list', () => client.listReferrals(ID), () => nock(PRIMERO).get(`/api/v2/cases/${ID}/referrals`)],
  ] as const)("retries %s answered 2xx without Primero's data (a page from something in front of it), never takes it for done", async (_what, call, route) => {
    route().reply(200, '<html>Session expired</html>', { 'Content-Type': 'text/html' });
    expect((await failure(call)).kind).toBe('transient');
    route().reply(200, { ok: true });
    expect((await failure(call)).kind).toBe('transient');
  });

  it('pauses on a redirect or a missing route (PRIMERO_URL wrong), never a dead letter per report; retries a 408', async () => {
    nock(PRIMERO).post('/api/v2/cases').reply(301, '', { Location: 'https://primero-client.test/api/v2/cases' });
    expect((await failure(() => client.createRecord('case', { id: ID }))).kind).toBe('configuration');
    nock(PRIMERO).post('/api/v2/cases').reply(404, 'Not Found');
    expect((await failure(() => client.createRecord('case', { id: ID }))).kind).toBe('configuration');
    nock(PRIMERO).get(`/api/v2/cases/${ID}`).reply(302, '', { Location: '/login' });
    expect((await failure(() => client.getRecord('case', ID))).kind).toBe('configuration');
    nock(PRIMERO).post('/api/v2/cases').reply(408, 'Request Timeout');
    expect((await failure(() => client.createRecord('case', { id: ID }))).kind).toBe('transient');
  });

  it('never sends a create without the gateway-chosen id (Primero would make a new record on every retry)', async () => {
    const create = nock(PRIMERO).post('/api/v2/cases').reply(204);
    await expect(client.createRecord('case', { name_first: 'x' })).rejects.toThrow('a create needs the gateway-chosen id');
    expect(create.isDone()).toBe(false);
  });

  it('reads 409 on a create as already created', async () => {
    nock(PRIMERO).post('/api/v2/cases').reply((uri) => primeroAnswer('conflict', uri));
    expect(await client.createRecord('case', { id: ID })).toBe('exists');
  });

  it('keeps the field pointers and names of both 422 shapes, as a permanent failure', async () => {
    nock(PRIMERO)
      .post('/api/v2/cases').reply((uri) => primeroAnswer('invalidRecordJson', uri))
      .post('/api/v2/cases').reply((uri) => primeroAnswer('recordInvalid', uri));
    const json = await failure(() => client.createRecord('case', { id: ID }));
    expect([json.kind, json.message]).toEqual(['permanent', 'Primero rejected the case create (422): /sex, /age: Invalid Record JSON']);
    const invalid = await failure(() => client.createRecord('case', { id: ID }));
    expect([invalid.kind, invalid.message]).toEqual(['permanent', 'Primero rejected the case create (422): date_of_birth: is invalid']);
  });

  it('waits out the configuration lock (503, Retry-After: 60)', async () => {
    nock(PRIMERO).post('/api/v2/cases').reply((uri) => primeroAnswer('configurationLock', uri));
    const err = await failure(() => client.createRecord('case', { id: ID }));
    expect([err.kind, err.status, err.retryAfterMs]).toEqual(['transient', 503, 60_000]);
  });
});
