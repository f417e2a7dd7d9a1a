import { Router } from 'express';
import type { ChannelDefinition } from '../channel';
import { rapidProRouter } from './route';
import { rapidProStatusRouter } from './status-route';

export const rapidpro: ChannelDefinition<'rapidpro'> = {
  name: 'rapidpro',
  enabled: (config) => Boolean(config.RAPIDPRO_WEBHOOK_TOKEN),
  route: ({ config, intents, services, logger }) =>
    Router().use(
      // First, so an intent ever named "status" could not take the path over.
      rapidProStatusRouter({
        webhookToken: config.RAPIDPRO_WEBHOOK_TOKEN!,
        senderRecords: services.senderRecords,
        gatewayUser: config.PRIMERO_USER,
        timeoutMs: config.ENQUEUE_TIMEOUT_MS,
        logger,
      }),
      rapidProRouter({ webhookToken: config.RAPIDPRO_WEBHOOK_TOKEN!, intents, intake: services.intake, logger, metrics: services.metrics }),
    ),
  personalFields: ['urn', 'contactUuid', 'results'],
  replyQueues: [],
};
