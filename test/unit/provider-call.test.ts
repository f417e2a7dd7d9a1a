import { DeliveryError } from '../../src/clients/delivery-error';
import { providerCall } from '../../src/replies/person-sender';

describe('providerCall: what a failure around a provider request means for a message to a person', () => {
  it('takes an error that is no DeliveryError, thrown once the request may have left, as "may have been sent", without its words', async () => {
    const err = await providerCall('Twilio', async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'sid') in +254700000001");
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ service: 'Twilio', hint: { is: 'maybe_sent' } });
    expect((err as Error).message).not.toContain('254700000001');
  });

  it("keeps the provider's own DeliveryError as it is, and the answer when there is no error", async () => {
    const refused = new DeliveryError('Twilio', 'permanent', 400, 'refused');
    await expect(providerCall('Twilio', async () => { throw refused; })).rejects.toBe(refused);
    await expect(providerCall('Twilio', async () => 'sent')).resolves.toBe('sent');
  });

  it('takes a 502 or 504 (a proxy that lost the provider\'s answer) as "may have been sent", and a 500 or 503 as not sent', async () => {
    for (const status of [502, 504]) {
      const err = await providerCall('Twilio', async () => { throw new DeliveryError('Twilio', 'transient', status, `answered ${status}`); }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status, kind: 'transient', hint: { is: 'maybe_sent' } });
    }
    for (const status of [500, 503]) {
      const err = await providerCall('Twilio', async () => { throw new DeliveryError('Twilio', 'transient', status, `answered ${status}`); }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status, hint: null });
    }
  });
});
