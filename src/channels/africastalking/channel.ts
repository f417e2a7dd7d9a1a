import type { ChannelDefinition } from '../channel';
import { africasTalkingRouter } from './route';

export const africastalking: ChannelDefinition<'africastalking'> = {
  name: 'africastalking',
  enabled: (config) => Boolean(config.AFRICASTALKING_WEBHOOK_TOKEN),
  route: ({ config, services, logger }) => africasTalkingRouter({ token: config.AFRICASTALKING_WEBHOOK_TOKEN!, providerMessages: services.providerMessages, logger }),
  personalFields: ['urn', 'text', 'attachments'],
  replyQueues: [],
};
