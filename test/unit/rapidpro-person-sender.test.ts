import nock from 'nock';
import { DeliveryError } from '../../src/clients/delivery-error';
import { RapidProClient } from '../../src/clients/rapidpro';
import { createLogger } from '../../src/logger';
import { rapidProPersonSender } from '../../src/channels/rapidpro/person-sender';
import type { PersonSenderDeps } from '../../src/replies/person-sender';
import { LogCapture, testConfig } from '../support/gateway';
import { expectNoPersonalData } from '../support/personal-data';

const RAPIDPRO = 'http://rapidpro-person-sender.test';
const FLOW = '5e0c3a4b-9d27-4f61-8a1e-3c7b2d9f4e10';
const CONTACT = '3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b';
const TEXT = 'Come to the office on Monday, your aunt can come too';

describe('the RapidPro sender of caseworker messages', () => {
  const logs = new LogCapture();
  // Long enough for a cold process on a loaded CI machine; the timeout test passes its own short one.
  const sender = (flow: string | null = FLOW, timeoutMs = 3000) =>
    rapidProPersonSender({
      config: testConfig('unused', flow ? { RAPIDPRO_REPLY_FLOW_UUID: flow } : {}),
      rapidpro: new RapidProClient({ baseUrl: RAPIDPRO, token: 'rp-token', timeoutMs }),
      logger: createLogger('info', logs),
    } as unknown as PersonSenderDeps);
  const flowType = (type: string) => nock(RAPIDPRO).get('/api/v2/flows.json').query({ uuid: FLOW }).reply(200, { results: [{ uuid: FLOW, type }] });

  beforeAll(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  afterAll(async () => {
    // The delayed answer of the timed-out lookup lands after its test: let it, so nothing is left running.
    await new Promise((r) => setTimeout(r, 300));
    nock.enableNetConnect();
  });

  it('is not configured without RAPIDPRO_REPLY_FLOW_UUID', () => {
    expect(sender(null)).toBeNull();
  });

  it('starts the reply flow for the contact when the person has no URN, with the text and reference only', async () => {
    flowType('background');
    let body: unknown;
    nock(RAPIDPRO).post('/api/v2/flow_starts.json', (b) => ((body = b), true)).reply(201, { uuid: 'x' });
    expect(await sender()!.send({ urn: '', contactUuid: CONTACT, text: TEXT, language: null, reference: 'K7M2P9QA' })).toEqual({ sent: 'text' });
    expect(body).toEqual({ flow: FLOW, urns: [], contacts: [CONTACT], params: { text: TEXT, reference: 'K7M2P9QA' }, restart_participants: true, exclude_active: false });
  });

  it('refuses to start a flow that is not background, as a configuration fault, sending nothing', async () => {
    flowType('message');
    const start = nock(RAPIDPRO).post('/api/v2/flow_starts.json').reply(201, {});
    const err = await sender()!.send({ urn: 'tel:+250788111222', contactUuid: null, text: TEXT, language: null, reference: 'K7M2P9QB' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).kind).toBe('configuration');
    expect(start.isDone()).toBe(false);
    expect(logs.text).toContain('RAPIDPRO_REPLY_FLOW_UUID is not a background flow');
  });

  it('does not call a timed-out flow lookup "maybe sent": nothing was sent yet', async () => {
    nock(RAPIDPRO).get('/api/v2/flows.json').query({ uuid: FLOW }).delay(300).reply(200, { results: [{ uuid: FLOW, type: 'background' }] });
    const err = (await sender(FLOW, 100)!.send({ urn: 'tel:+250788111222', contactUuid: null, text: TEXT, language: null, reference: 'K7M2P9QC' }).catch((e: unknown) => e)) as DeliveryError;
    expect(err.kind).toBe('transient');
    expect(err.hint).toBeNull();
  });

  it('logged none of the words nor the number', () => {
    expectNoPersonalData(logs.text, [TEXT, '250788111222', CONTACT]);
  });
});
