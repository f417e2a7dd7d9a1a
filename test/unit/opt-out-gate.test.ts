import { optOutAllows, type ReplyAnswers } from '../../src/replies/opt-out-gate';

describe("a queued reply and the number's opt-out when it is sent", () => {
  const contacts = (optedOut: boolean) => ({ isOptedOut: async () => optedOut });
  const allows = (optedOut: boolean, answers: ReplyAnswers, reference: string | null = null, earlier: 'sent' | 'checked' = 'checked') =>
    optOutAllows(contacts(optedOut), 'tel:+254711000001', { reference, answers }, earlier);

  it("sends a STOP's confirmation only while the number is opted out, everything else only while it is not", async () => {
    expect([await allows(true, 'optout'), await allows(false, 'optout')]).toEqual([true, false]);
    expect([await allows(true, 'optin'), await allows(false, 'optin')]).toEqual([false, true]);
    expect([await allows(true, 'other'), await allows(false, 'other')]).toEqual([false, true]);
    expect([await allows(true, 'other', 'K7M2P9QA'), await allows(false, 'other', 'K7M2P9QA')]).toEqual([false, true]);
  });

  it('reads a reply an earlier build queued as that build did', async () => {
    // Africa's Talking sent every reply without a reference (a STOP's confirmation among them); WhatsApp checked all.
    expect(await allows(true, undefined, null, 'sent')).toBe(true);
    expect(await allows(true, undefined, null, 'checked')).toBe(false);
    expect(await allows(true, undefined, 'K7M2P9QA', 'sent')).toBe(false);
    expect(await allows(false, undefined, 'K7M2P9QA', 'sent')).toBe(true);
  });
});
