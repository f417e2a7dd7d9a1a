import type { ChannelDefinition } from '../channel';
import { rapidProRouter } from './route';

export const rapidpro: ChannelDefinition<'rapidpro'> = {
  name: 'rapidpro',
  enabled: (config) => Boolean(config.RAPIDPRO_WEBHOOK_TOKEN),
  route: ({ config, intents, services, logger }) =>
    rapidProRouter({ webhookToken: config.RAPIDPRO_WEBHOOK_TOKEN!, intents, intake: services.intake, logger, metrics: services.metrics }),
  personalFields: ['urn', 'contactUuid', 'results'],
  replyQueues: [],
};
