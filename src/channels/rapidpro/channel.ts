import { Router } from 'express';
import type { ChannelDefinition, ChannelRouteDeps } from '../channel';
import { rapidProFastRoutes } from './fast-route';
import { rapidProRouter, type RapidProRouteDeps } from './route';
import { rapidProStatusRouter } from './status-route';

const intakeDeps = ({ config, intents, services, logger }: ChannelRouteDeps): RapidProRouteDeps => ({
  webhookToken: config.RAPIDPRO_WEBHOOK_TOKEN!,
  intents,
  intake: services.intake,
  logger,
  metrics: services.metrics,
});

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
      rapidProRouter(intakeDeps({ config, intents, services, logger })),
    ),
  fastRoutes: (deps) => rapidProFastRoutes(intakeDeps(deps), deps.services.metrics.webhookWatcher()),
  personalFields: ['urn', 'contactUuid', 'results'],
  replyQueues: [],
};
