import { DeliveryError, classifyStatus, networkFailure } from '../../src/clients/delivery-error';
import { pushFailure } from '../../src/clients/webpush';
import { configuredDestinations, retryReason, stateOf, type DestinationConfig } from '../../src/admin/overview-destinations';
import { pauseReason } from '../../src/queues/failure-policy';
import { destinationOf } from '../../src/store/destination-status';

const NONE: DestinationConfig = {
  RAPIDPRO_URL: undefined,
  RAPIDPRO_TOKEN: undefined,
  RAPIDPRO_NOTIFY_FLOW_UUID: undefined,
  VAPID_PUBLIC_KEY: undefined,
  VAPID_PRIVATE_KEY: undefined,
  VAPID_SUBJECT: undefined,
  WHATSAPP_ACCESS_TOKEN: undefined,
  WHATSAPP_PHONE_NUMBER_ID: undefined,
};

describe('which destinations the overview lists', () => {
  it('lists Primero always, and the others only when configured', () => {
    expect(configuredDestinations(NONE)).toEqual(['primero']);
    const all: DestinationConfig = {
      RAPIDPRO_URL: 'https://rapidpro.example.org',
      RAPIDPRO_TOKEN: 'token',
      RAPIDPRO_NOTIFY_FLOW_UUID: '8f9ab6f4-0c43-4f6e-9b3a-2a1c5d4e6f70',
      VAPID_PUBLIC_KEY: 'pub',
      VAPID_PRIVATE_KEY: 'priv',
      VAPID_SUBJECT: 'mailto:ops@example.org',
      WHATSAPP_ACCESS_TOKEN: 'wa',
      WHATSAPP_PHONE_NUMBER_ID: '123',
    };
    expect(configuredDestinations(all)).toEqual(['primero', 'rapidpro', 'push', 'whatsapp']);
    // RapidPro's token without a notify flow starts nothing; WhatsApp's token without its number sends nothing.
    expect(configuredDestinations({ ...all, RAPIDPRO_NOTIFY_FLOW_UUID: undefined, WHATSAPP_PHONE_NUMBER_ID: undefined, VAPID_SUBJECT: undefined })).toEqual(['primero']);
  });

  it('files each queue under the destination its jobs call', () => {
    expect(['intake', 'primero-events', 'primero-poll', 'rapidpro-notify', 'push', 'whatsapp-replies', 'maintenance', 'whatsapp-unreadable'].map(destinationOf)).toEqual([
      'primero',
      'primero',
      'primero',
      'rapidpro',
      'push',
      'whatsapp',
      null,
      null,
    ]);
  });
});

describe('a destination state', () => {
  it('is paused while a pause is recorded, whatever waits to be retried', () => {
    const now = Date.parse('2026-12-02T03:59:00.000Z');
    expect(stateOf('primero', { reason: "Primero refused the API user's credentials (401)", remainingMs: 60_000 }, { failedReason: 'Primero answered 503 on create case' }, now)).toEqual({
      destination: 'primero',
      state: 'paused',
      reason: "Primero refused the API user's credentials (401)",
      resumesAt: '2026-12-02T04:00:00.000Z',
    });
  });

  it('is retrying while a retried job waits, with the status class of its last failure', () => {
    expect(stateOf('rapidpro', undefined, { failedReason: 'RapidPro answered 502 on a flow start' }, Date.now())).toEqual({ destination: 'rapidpro', state: 'retrying', reason: 'RapidPro answers 5xx', resumesAt: null });
  });

  it('is healthy otherwise', () => {
    expect(stateOf('push', undefined, null, Date.now())).toEqual({ destination: 'push', state: 'healthy', reason: null, resumesAt: null });
  });
});

describe('the reason of a retry is a status class in fixed words, never the failure text', () => {
  it.each([
    [classifyStatus('Primero', 503, 'create case', null).message, 'primero', 'Primero answers 5xx'],
    [classifyStatus('RapidPro', 429, 'flow start', null).message, 'rapidpro', 'RapidPro answers 4xx'],
    [networkFailure('Primero', 'create case', { code: 'ECONNABORTED' }).message, 'primero', 'timeouts'],
    [networkFailure('WhatsApp', 'send', { code: 'ECONNREFUSED' }).message, 'whatsapp', 'WhatsApp does not answer'],
    [pushFailure({ status: null, retryAfterMs: null })!.message, 'push', 'The push service does not answer'],
    ['merge lock held by another worker for tel:+254700111222', 'primero', null],
    [undefined, 'primero', null],
  ] as const)('%p → %p', (failedReason, destination, reason) => {
    expect(retryReason(destination, failedReason)).toBe(reason);
  });
});

describe('the reason of a pause', () => {
  it.each([
    [classifyStatus('Primero', 401, 'create case', null), "Primero refused the API user's credentials (401)"],
    [classifyStatus('Primero', 403, 'create case', null), "Primero refused the API user's credentials or role (403)"],
    [classifyStatus('RapidPro', 403, 'flow start', null), 'RapidPro refused the API token (403)'],
    [classifyStatus('WhatsApp', 401, 'send', null), 'WhatsApp refused the access token (401)'],
    [pushFailure({ status: 403, retryAfterMs: null })!, 'The push service refused the VAPID credentials (403)'],
    [classifyStatus('Primero', 503, 'create case', 60_000), 'Primero asked the gateway to wait (503)'],
    [new DeliveryError('Primero', 'configuration', 401, 'Primero said: <html>sms_gateway is locked</html>'), "Primero refused the API user's credentials (401)"],
  ])('%p → %p', (err, reason) => {
    expect(pauseReason(err)).toBe(reason);
  });
});
