import { QUEUES } from '../../queues/names';
import type { ChannelDefinition } from '../channel';
import { africasTalkingRouter } from './route';

export const africastalking: ChannelDefinition<'africastalking'> = {
  name: 'africastalking',
  enabled: (config) => Boolean(config.AFRICASTALKING_WEBHOOK_TOKEN),
  route: ({ config, services, logger }) =>
    africasTalkingRouter({ token: config.AFRICASTALKING_WEBHOOK_TOKEN!, providerMessages: services.providerMessages, replies: services.africasTalkingReplies, logger }),
  // A reply job names the sender by `urn` (their tel: URN), like a message does.
  personalFields: ['urn', 'text', 'attachments'],
  replyQueues: [QUEUES.africastalkingReplies],
};
