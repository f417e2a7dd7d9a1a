import { DeliveryError, classifyStatus, networkFailure } from '../../src/clients/delivery-error';
import { pushFailure } from '../../src/clients/webpush';
import { configuredDestinations, listedDestinations, retryReason, stateOf, type DestinationConfig } from '../../src/admin/overview-destinations';
import { pauseReason } from '../../src/queues/failure-policy';
import { destinationOf } from '../../src/store/destination-status';

const NONE: DestinationConfig = {
  RAPIDPRO_URL: undefined,
  RAPIDPRO_NOTIFY_FLOW_UUID: undefined,
  VAPID_PUBLIC_KEY: undefined,
  VAPID_SUBJECT: undefined,
  WHATSAPP_PHONE_NUMBER_ID: undefined,
};
const NO_PAUSE = new Map();

describe('which destinations the overview lists', () => {
  it('lists Primero always, and the others when their public settings are given (no secret is needed to list one)', () => {
    expect(configuredDestinations(NONE)).toEqual(['primero']);
    const all: DestinationConfig = {
      RAPIDPRO_URL: 'https://rapidpro.example.org',
      RAPIDPRO_NOTIFY_FLOW_UUID: '8f9ab6f4-0c43-4f6e-9b3a-2a1c5d4e6f70',
      VAPID_PUBLIC_KEY: 'pub',
      VAPID_SUBJECT: 'mailto:ops@example.org',
      WHATSAPP_PHONE_NUMBER_ID: '123',
    };
    expect(configuredDestinations(all)).toEqual(['primero', 'rapidpro', 'push', 'whatsapp']);
    // RapidPro's token without a notify flow starts nothing; WhatsApp's token without its number sends nothing.
    expect(configuredDestinations({ ...all, RAPIDPRO_NOTIFY_FLOW_UUID: undefined, WHATSAPP_PHONE_NUMBER_ID: undefined, VAPID_SUBJECT: undefined })).toEqual(['primero']);
  });

  it('also lists a destination this reader does not configure while its queue is paused or holds jobs, in the fixed order', () => {
    expect(listedDestinations(['primero'], new Set(['whatsapp', 'rapidpro']))).toEqual(['primero', 'rapidpro', 'whatsapp']);
    expect(listedDestinations(['primero', 'push'], new Set())).toEqual(['primero', 'push']);
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
  const now = Date.parse('2026-12-02T03:59:00.000Z');
  const credentials = { reason: "Primero refused the API user's credentials (401)", cause: 'configuration' as const };
  const waitAsked = { reason: 'Primero asked the gateway to wait (503)', cause: 'retry_after' as const };

  it('is paused while a queue of it is paused, whatever waits to be retried', () => {
    expect(stateOf('primero', { pauses: new Map([['intake', { ...credentials, remainingMs: 60_000 }]]), retriedFailure: 'Primero answered 503 on create case' }, now)).toEqual({
      destination: 'primero',
      state: 'paused',
      reason: "Primero refused the API user's credentials (401)",
      resumesAt: '2026-12-02T04:00:00.000Z',
      cause: 'configuration',
      pauses: [{ queue: 'intake', cause: 'configuration', reason: "Primero refused the API user's credentials (401)", resumesAt: '2026-12-02T04:00:00.000Z' }],
    });
  });

  it('names a configuration fault before a longer Retry-After of another queue, lists both, and resumes when the last does', () => {
    const pauses = new Map([
      ['primero-events', { ...waitAsked, remainingMs: 120_000 }],
      ['intake', { ...credentials, remainingMs: 60_000 }],
    ]);
    const state = stateOf('primero', { pauses, retriedFailure: null }, now);
    expect(state).toMatchObject({ state: 'paused', reason: credentials.reason, cause: 'configuration', resumesAt: '2026-12-02T04:01:00.000Z' });
    expect(state.pauses.map((p) => [p.queue, p.cause, p.resumesAt])).toEqual([
      ['intake', 'configuration', '2026-12-02T04:00:00.000Z'],
      ['primero-events', 'retry_after', '2026-12-02T04:01:00.000Z'],
    ]);
  });

  it('is paused for a Retry-After alone with that cause', () => {
    expect(stateOf('primero', { pauses: new Map([['primero-events', { ...waitAsked, remainingMs: 5_000 }]]), retriedFailure: null }, now)).toMatchObject({ state: 'paused', reason: waitAsked.reason, cause: 'retry_after' });
  });

  it('is retrying while a retried job waits, with the status class of its last failure', () => {
    expect(stateOf('rapidpro', { pauses: NO_PAUSE, retriedFailure: 'RapidPro answered 502 on a flow start' }, now)).toEqual({ destination: 'rapidpro', state: 'retrying', reason: 'RapidPro answers 5xx', resumesAt: null, cause: null, pauses: [] });
    // A retried job whose failure left no text still counts.
    expect(stateOf('rapidpro', { pauses: NO_PAUSE, retriedFailure: '' }, now)).toMatchObject({ state: 'retrying', reason: null });
  });

  it('is healthy otherwise', () => {
    expect(stateOf('push', { pauses: NO_PAUSE, retriedFailure: null }, now)).toEqual({ destination: 'push', state: 'healthy', reason: null, resumesAt: null, cause: null, pauses: [] });
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
    [classifyStatus('Primero', 503, 'create case', 60_000), 'Primero asked the gateway to wait (503)'],
    [new DeliveryError('Primero', 'configuration', 401, 'Primero said: <html>sms_gateway is locked</html>'), "Primero refused the API user's credentials (401)"],
  ])('%p → %p', (err, reason) => {
    expect(pauseReason(err)).toBe(reason);
  });
});
