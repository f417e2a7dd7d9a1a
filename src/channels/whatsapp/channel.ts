import { QUEUES } from '../../queues/names';
import type { ChannelDefinition } from '../channel';
import { whatsappRouter } from './route';

export const whatsapp: ChannelDefinition<'whatsapp'> = {
  name: 'whatsapp',
  // The verify token alone serves Meta's handshake; the app secret alone takes signed messages.
  enabled: (config) => Boolean(config.WHATSAPP_APP_SECRET || config.WHATSAPP_VERIFY_TOKEN),
  route: ({ config, services, logger }) =>
    whatsappRouter({
      verifyToken: config.WHATSAPP_VERIFY_TOKEN,
      appSecret: config.WHATSAPP_APP_SECRET,
      providerMessages: services.providerMessages,
      replies: services.whatsappReplies,
      unreadable: services.whatsappUnreadable,
      windows: services.whatsappWindows,
      logger,
    }),
  // A reply job names the sender's WhatsApp id, and a wamid encodes the phone number.
  personalFields: ['urn', 'text', 'attachments', 'waId', 'wamid'],
  replyQueues: [QUEUES.whatsappReplies],
  senderIdFields: { waId: (id) => `whatsapp:${id}` },
};
