import type { ChannelDefinition } from '../channel';
import { twilioRouter } from './route';

export const twilio: ChannelDefinition<'twilio'> = {
  name: 'twilio',
  // Twilio signs the public URL: without it no signature can be checked.
  enabled: (config) => Boolean(config.TWILIO_AUTH_TOKEN && config.PUBLIC_URL),
  route: ({ config, services, logger }) => twilioRouter({ authToken: config.TWILIO_AUTH_TOKEN!, publicUrl: config.PUBLIC_URL!, providerMessages: services.providerMessages, logger }),
  personalFields: ['urn', 'text', 'attachments'],
  replyQueues: [],
};
