import { pushServiceFamily } from '../../src/clients/push-service-family';
import { pushFailure } from '../../src/clients/webpush';
import { expectNoPersonalData } from '../support/personal-data';

describe("a push service's 401/403 is about one subscription", () => {
  it.each([401, 403])('%i is permanent for that device, never a configuration pause of the queue', (status) => {
    const err = pushFailure({ status, retryAfterMs: null })!;
    expect(err.kind).toBe('permanent');
    expect(err.hint).toEqual({ is: 'vapid_refused' });
    expect(err.message).toContain(`(${status})`);
    expect(err.message).toContain('VAPID_PUBLIC_KEY');
  });

  it('a 403 says the subscription was most likely made under another VAPID key', () => {
    expect(pushFailure({ status: 403, retryAfterMs: null })!.message).toMatch(/another VAPID public key.*enroll again/);
  });

  it('the other answers keep their meaning', () => {
    expect(pushFailure({ status: 410, retryAfterMs: null })!.hint).toEqual({ is: 'gone' });
    expect(pushFailure({ status: 429, retryAfterMs: 1000 })!.hint).toEqual({ is: 'wait' });
    expect(pushFailure({ status: 413, retryAfterMs: null })!).toMatchObject({ kind: 'permanent', hint: null });
    expect(pushFailure({ status: 503, retryAfterMs: null })!.kind).toBe('transient');
  });
});

describe("a push service's label is its family, never its endpoint", () => {
  it.each([
    ['https://fcm.googleapis.com/fcm/send/abc:def', 'fcm'],
    ['https://android.googleapis.com/gcm/send/abc', 'fcm'],
    ['https://updates.push.services.mozilla.com/wpush/v2/gAAAA', 'mozilla'],
    ['https://wns2-par02p.notify.windows.com/w/?token=BQYAAA', 'windows'],
    ['https://web.push.apple.com/QGz1', 'apple'],
    ['http://127.0.0.1:4567/push/phone', 'other'],
    ['not a url', 'other'],
  ])('%s → %s', (endpoint, family) => expect(pushServiceFamily(endpoint)).toBe(family));
});

describe('personal data', () => {
  it('no failure reason names the endpoint', () => {
    const reasons = [401, 403, 404, 410, 413, 429, 500, null].map((status) => pushFailure({ status, retryAfterMs: null })!.message);
    expectNoPersonalData(reasons, ['http://', 'https://', 'fcm.googleapis.com', '/push/']);
  });
});
