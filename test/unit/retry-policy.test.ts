import { retryDelayMs } from '../../src/domain/retry-policy';
import { parseRetryAfter } from '../../src/clients/retry-after';

const policy = { baseMs: 5000, maxMs: 1_800_000 };

describe('retry policy', () => {
  it('doubles per attempt between half and all of the step, and stops growing at the cap', () => {
    expect(retryDelayMs(1, policy, null, () => 0)).toBe(2500);
    expect(retryDelayMs(1, policy, null, () => 1)).toBe(5000);
    expect(retryDelayMs(3, policy, null, () => 1)).toBe(20000);
    expect(retryDelayMs(25, policy, null, () => 1)).toBe(1_800_000);
  });

  it('keeps trying for hours with the default 30 attempts', () => {
    let total = 0;
    for (let a = 1; a < 30; a++) total += retryDelayMs(a, policy, null, () => 0);
    expect(total).toBeGreaterThan(5 * 3600_000);
  });

  it("never retries before the server's Retry-After", () => {
    expect(retryDelayMs(1, policy, 60_000, () => 0)).toBe(60_000);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('120')).toBe(120_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(30_000);
    expect(parseRetryAfter(undefined)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
  });
});
