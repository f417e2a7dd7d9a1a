import nock from 'nock';
import request from 'supertest';
import { twilioSignature } from '../../src/channels/twilio/signature';
import { referenceFromSequence } from '../../src/domain/reference';
import { gatewayKey } from '../../src/store/keys';
import { startGateway, uniquePrefix, untilGatewayDrained, type Gateway } from '../support/gateway';
import { eventually } from '../support/eventually';
import { expectNoPersonalData } from '../support/personal-data';
import { PRIMERO, RecordingPrimero } from '../support/primero-fake';

const PUBLIC_URL = 'https://gateway.example.org';
const TWILIO_TOKEN = 'twilio-auth-token-0018';
const OWN_NUMBER = '+254700000018';
const WORDS = 'someone took my papers at the border';
const messageOf = (xml: string) => /<Message>([\s\S]*)<\/Message>/.exec(xml)?.[1] ?? null;

/** The first sequence number whose reference has no digit: about one reference in ten is letters only. */
function firstLettersOnly(): number {
  for (let n = 1; ; n++) if (!/[0-9]/.test(referenceFromSequence(n))) return n;
}

describe('STATUS followed by a reference of letters only', () => {
  let gw: Gateway;
  let sid = 0;
  let primero: RecordingPrimero;

  function sms(from: string, body: string) {
    const params = new URLSearchParams({ MessageSid: `SM${String(++sid).padStart(32, '0')}`, AccountSid: 'AC1', From: from, To: OWN_NUMBER, Body: body, NumMedia: '0' });
    const signature = twilioSignature(TWILIO_TOKEN, `${PUBLIC_URL}/webhooks/twilio/sms`, params);
    return request(gw.app).post('/webhooks/twilio/sms').set('X-Twilio-Signature', signature).type('form').send(params.toString());
  }

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    primero = new RecordingPrimero(PRIMERO);
    gw = await startGateway({ prefix: uniquePrefix('sms-status-letters'), env: { PUBLIC_URL, TWILIO_AUTH_TOKEN: TWILIO_TOKEN, PRIMERO_POLL_INTERVAL_SECONDS: '0', OWN_ADDRESSES: OWN_NUMBER } });
    // The API's first block of references starts at the first letters-only one.
    await gw.redis.set(gatewayKey(gw.config.QUEUE_PREFIX, 'seq', 'reference'), firstLettersOnly() - 1);
  });

  afterAll(async () => {
    await gw.close();
    nock.cleanAll();
    nock.enableNetConnect();
    expectNoPersonalData(gw.logs.text, [WORDS, '254711800']);
  });

  it("answers the owner's STATUS <reference> with its status, and reads anyone else's as a message (eight letters may be words)", async () => {
    const owner = '+254711800101';
    const reference = /reference is ([2-9A-HJ-NP-Z]{8})\./.exec(messageOf((await sms(owner, `HELP ${WORDS}`)).text)!)![1]!;
    expect(reference).toMatch(/^[A-Z]{8}$/);
    await eventually(() => gw.references.get(reference));
    await untilGatewayDrained(gw);
    const cases = primero.created.length;
    expect(messageOf((await sms(owner, `STATUS ${reference}`)).text)).toBe(`Your reports: ${reference} received`);
    expect(messageOf((await sms('+254711800102', `STATUS ${reference}`)).text)).not.toContain(reference);
    await untilGatewayDrained(gw);
    // The owner's question stored nothing; the stranger's words became a report of their own.
    expect(primero.created.length).toBe(cases + 1);
  });
});
