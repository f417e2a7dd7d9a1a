import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { InboundMessage } from './domain/inbound-message';
import { errorHandler, notFound } from './http/errors';
import { healthRouter } from './http/health';
import { rapidProRouter } from './http/rapidpro';
import type { Logger } from './logger';
import type { IntakeProducer } from './queues/intake';

export interface AppDeps {
  logger: Logger;
  redis: Redis;
  intake: IntakeProducer;
  rapidProWebhookToken: string | undefined;
  intents: ReadonlyArray<InboundMessage['intent']>;
}

/** Builds the HTTP app without listening, so tests drive the very app production runs. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(healthRouter(deps.redis));
  // A channel whose secret is unset is off: its routes fall through to 404.
  if (deps.rapidProWebhookToken) {
    app.use(rapidProRouter({ webhookToken: deps.rapidProWebhookToken, intents: deps.intents, intake: deps.intake, logger: deps.logger }));
  }
  app.use(notFound());
  app.use(errorHandler(deps.logger));
  return app;
}
