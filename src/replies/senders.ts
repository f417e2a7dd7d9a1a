import { africasTalkingPersonSender } from '../channels/africastalking/person-sender';
import { rapidProPersonSender } from '../channels/rapidpro/person-sender';
import { twilioPersonSender } from '../channels/twilio/person-sender';
import { whatsappPersonSender } from '../channels/whatsapp/person-sender';
import type { PersonSender, PersonSenderDeps, PersonSenderFactory } from './person-sender';

/**
 * Channel name (a gateway record's `channel`) → how its caseworker messages are sent. A channel missing here,
 * or whose factory answers null (its send settings unset), ends its messages as "not sent: no channel".
 */
export const PERSON_SENDERS: Readonly<Record<string, PersonSenderFactory>> = {
  rapidpro: rapidProPersonSender,
  whatsapp: whatsappPersonSender,
  twilio: twilioPersonSender,
  africastalking: africasTalkingPersonSender,
};

/** Every channel's sender, built once for a worker process: channel name → its sender, or null when it cannot send. */
export function buildPersonSenders(deps: PersonSenderDeps, factories: Readonly<Record<string, PersonSenderFactory>> = PERSON_SENDERS): (channel: string) => PersonSender | null {
  const built = new Map(Object.entries(factories).map(([channel, factory]) => [channel, factory(deps)]));
  return (channel) => built.get(channel) ?? null;
}
