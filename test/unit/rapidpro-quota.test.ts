import { rapidProShares, spacedPerHour } from '../../src/queues/rapidpro-quota';
import { caseworkerQueueFor, QUEUES } from '../../src/queues/names';

describe("RapidPro's hourly share, split between notifications and caseworker messages", () => {
  it('never starts more flows an hour than RAPIDPRO_RATE_PER_HOUR, together', () => {
    for (const perHour of [2, 6, 7, 1200, 3600, 1_000_000]) {
      const { notify, replies } = rapidProShares(perHour);
      expect(notify + replies).toBeLessThanOrEqual(perHour);
      expect(replies).toBeGreaterThanOrEqual(1);
      expect(notify).toBeGreaterThanOrEqual(1);
    }
    expect(rapidProShares(1200)).toEqual({ notify: 1000, replies: 200 });
    expect(spacedPerHour(200)).toEqual({ max: 1, duration: 18_000 });
  });
});

describe('the queue a caseworker message waits in', () => {
  it("is its record channel's own, or the shared one for a channel without a sender", () => {
    expect(caseworkerQueueFor('twilio')).toBe(QUEUES.caseworkerMessagesTwilio);
    expect(caseworkerQueueFor('rapidpro')).toBe(QUEUES.caseworkerMessagesRapidpro);
    expect(caseworkerQueueFor('telegram')).toBe(QUEUES.caseworkerMessages);
    expect(caseworkerQueueFor('constructor')).toBe(QUEUES.caseworkerMessages);
    expect(caseworkerQueueFor('other')).toBe(QUEUES.caseworkerMessages);
  });
});
