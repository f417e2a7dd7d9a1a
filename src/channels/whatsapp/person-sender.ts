import { DeliveryError } from '../../clients/delivery-error';
import { parseUrn } from '../../domain/urn';
import type { Logger } from '../../logger';
import { providerCall, type PersonMessage, type PersonSender, type PersonSenderFactory, type SendOutcome } from '../../replies/person-sender';
import { WhatsAppWindowStore } from '../../store/whatsapp-windows';
import { OUTSIDE_WINDOW, WhatsAppRefusal } from './graph-errors';
import { WHATSAPP_TEXT_MAX, WhatsAppClient } from './reply-sender';
import { SENDER } from './sender-id';

export interface WhatsAppPersonSenderOptions {
  client: WhatsAppClient;
  windows: WhatsAppWindowStore;
  /** The approved template inviting the person to write back, and its language; none: nothing goes out of the window. */
  template: { name: string; language: string } | null;
  logger: Logger;
}

const refused = (message: string) => new DeliveryError('WhatsApp', 'permanent', null, message);

/**
 * A caseworker's words to a person who wrote on WhatsApp. Inside the 24-hour window they go as text; outside it
 * only the configured template goes, which invites the person to write back and holds none of the words (the
 * caseworker can send them once the person has replied and the window is open again).
 */
export class WhatsAppPersonSender implements PersonSender {
  constructor(private readonly opts: WhatsAppPersonSenderOptions) {}

  async send(message: PersonMessage): Promise<SendOutcome> {
    const urn = parseUrn(message.urn);
    if (!urn || urn.scheme !== 'whatsapp' || !SENDER.test(urn.path)) throw refused('the record names no WhatsApp address to send to');
    const waId = urn.path;
    if (!(await this.opts.windows.isOpen(message.urn))) return this.invite(waId, message.reference);
    if ([...message.text].length > WHATSAPP_TEXT_MAX) throw refused(`the message is longer than WhatsApp's ${WHATSAPP_TEXT_MAX} characters: nothing was sent`);
    try {
      await providerCall('WhatsApp', () => this.opts.client.sendText(waId, message.text));
      return { sent: 'text' };
    } catch (err) {
      // Meta refused it outright, so nothing went out: our window was wrong (a message we never saw, clocks).
      if (!(err instanceof WhatsAppRefusal && err.metaCode === OUTSIDE_WINDOW)) throw err;
      await this.opts.windows.close(message.urn);
      return this.invite(waId, message.reference);
    }
  }

  private async invite(waId: string, reference: string): Promise<SendOutcome> {
    const template = this.opts.template;
    if (!template) throw refused("outside WhatsApp's 24-hour window and no template configured (WHATSAPP_REPLY_TEMPLATE)");
    await providerCall('WhatsApp', () => this.opts.client.sendTemplate(waId, template.name, template.language));
    this.opts.logger.info({ channel: 'whatsapp', reference }, "outside WhatsApp's 24-hour window: sent the reply template instead of the message");
    return { sent: 'template' };
  }
}

/** Null unless WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID are set. */
export const whatsappPersonSender: PersonSenderFactory = ({ config, redis, hasher, logger }) => {
  if (!config.WHATSAPP_ACCESS_TOKEN || !config.WHATSAPP_PHONE_NUMBER_ID) return null;
  const client = new WhatsAppClient({
    graphUrl: config.WHATSAPP_GRAPH_URL,
    phoneNumberId: config.WHATSAPP_PHONE_NUMBER_ID,
    accessToken: config.WHATSAPP_ACCESS_TOKEN,
    timeoutMs: config.REPLY_TIMEOUT_MS,
  });
  const template = config.WHATSAPP_REPLY_TEMPLATE ? { name: config.WHATSAPP_REPLY_TEMPLATE, language: config.WHATSAPP_REPLY_TEMPLATE_LANGUAGE } : null;
  return new WhatsAppPersonSender({ client, windows: new WhatsAppWindowStore(redis, config.QUEUE_PREFIX, hasher), template, logger });
};
