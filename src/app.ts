import express, { type Express, type RequestHandler } from 'express';
import type { RedisConnection } from './queues/connection';
import type { ApiServices } from './api-services';
import type { Config } from './config';
import type { InboundMessage } from './domain/inbound-message';
import { DeviceAdmin } from './admin/devices';
import type { ChannelRouteDeps } from './channels/channel';
import { enabledChannels } from './channels/index';
import { withFastRoutes, type FastRoutes } from './http/fast-routes';
import { adminAuth, adminRouter } from './http/admin';
import { queueDashboard } from './http/queue-dashboard';
import { operatorConsoleFor } from './console/from-services';
import { primeroWebhookRouter } from './http/primero';
import { pushRouter } from './http/push';
import { pushEnabled } from './notifications/services';
import { pushEndpointPolicy } from './security/push-endpoint';
import { AdminSessionStore } from './store/admin-sessions';
import { LoginThrottle } from './store/login-throttle';
import { errorHandler, notFound } from './http/errors';
import { healthRouter } from './http/health';
import type { Logger } from './logger';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface AppDeps {
  config: Config;
  logger: Logger;
  redis: RedisConnection;
  /** What /readyz pings, when not `redis`: a connection of its own is never queued behind a WAIT. */
  readiness?: RedisConnection;
  services: ApiServices;
  /** Intents with a mapping; each gets its RapidPro route. */
  intents: ReadonlyArray<InboundMessage['intent']>;
  /**
   * Which routes this listener serves: `public` (webhooks, push enrollment), `admin` (/admin, the dashboard,
   * /metrics: without a token when ADMIN_HOST is loopback, else with it) or `all` (one port for both: /metrics
   * then needs the admin token). Default `all`.
   */
  surface?: 'all' | 'public' | 'admin';
}

/** The dashboard, the console and the JSON admin routes: the operator's surface, all behind the admin token. */
function mountOperatorRoutes(app: Express, { config, logger, redis, services }: Pick<AppDeps, 'config' | 'logger' | 'redis' | 'services'>, token: string, loginThrottle: LoginThrottle): void {
  app.use(
    queueDashboard({
      queues: services.queues,
      token,
      codec: services.codec,
      sessions: new AdminSessionStore(redis, config.QUEUE_PREFIX),
      sessionTtlSeconds: config.ADMIN_SESSION_TTL_HOURS * 3600,
      loginThrottle,
    }),
  );
  app.use(operatorConsoleFor({ config, services, redis, loginThrottle, logger }));
  app.use(
    adminRouter({
      token,
      loginThrottle,
      deadLetters: services.deadLetters,
      forget: services.forget,
      references: services.references,
      trace: services.trace,
      audit: services.audit,
      intakeQueue: services.producer.queue,
      enrollment: pushEnabled(config) ? { subscriptions: services.notifications.subscriptions, publicUrl: config.PUBLIC_URL, ttlHours: config.ENROLLMENT_TTL_HOURS } : null,
      devices: pushEnabled(config) ? new DeviceAdmin(services.notifications.subscriptions, services.audit) : null,
      overview: services.overview,
      logger,
    }),
  );
}

/**
 * Builds the HTTP app without listening, so tests drive the very app production runs. A channel whose
 * secret is unset is off: its routes are never mounted and fall through to 404.
 */
export function createApp({ config, logger, redis, readiness, services, intents, surface = 'all' }: AppDeps): Express {
  const inbound = surface !== 'admin';
  const operator = surface !== 'public';
  const app = express();
  app.disable('x-powered-by');
  // Behind a TLS-terminating proxy: req.secure (the dashboard cookie's Secure flag) and req.ip from X-Forwarded-*.
  if (config.TRUST_PROXY !== undefined) app.set('trust proxy', config.TRUST_PROXY);
  // Up to the channel routes, every app.use below is skipped by POST /webhooks/rapidpro/<intent>: withFastRoutes
  // answers it ahead of express. Middleware added here that must run for it goes in src/channels/rapidpro/fast-route.ts
  // too (test/integration/fast-path-middleware.test.ts fails until it is listed there).
  app.use(healthRouter(readiness ?? redis));
  // Open only on an admin listener bound to loopback: bound wider (a container's 0.0.0.0), every neighbour reaches it.
  // One count per client address for every admin token check on this listener, keyed by a hash the dump cannot reverse.
  const loginThrottle = new LoginThrottle(redis, config.QUEUE_PREFIX, services.hasher);
  const privateMetrics = surface === 'admin' && LOOPBACK.has(config.ADMIN_HOST.toLowerCase());
  if (privateMetrics || (surface !== 'public' && config.ADMIN_TOKEN)) {
    const metricsAuth: RequestHandler = privateMetrics ? (_req, _res, next) => next() : adminAuth(config.ADMIN_TOKEN!, loginThrottle);
    app.get('/metrics', metricsAuth, async (_req, res) => {
      res.type('text/plain; version=0.0.4').send(await services.metrics.render());
    });
  }
  // The fast route does the same itself (watch in fast-route.ts).
  if (inbound) app.use(services.metrics.observeWebhooks());
  if (operator && config.ADMIN_TOKEN) mountOperatorRoutes(app, { config, logger, redis, services }, config.ADMIN_TOKEN, loginThrottle);
  // Each channel's routes sit on their own paths with no middleware of their own outside them, so the order
  // among them and the Primero and push routes does not change what a request reaches.
  if (inbound) for (const channel of enabledChannels(config)) app.use(channel.route({ config, logger, services, intents }));
  if (inbound && config.PRIMERO_WEBHOOK_API_KEY) {
    app.use(primeroWebhookRouter({ apiKey: config.PRIMERO_WEBHOOK_API_KEY, events: services.notifications.events, logger, safeFields: services.safeToContactFields }));
  }
  if (inbound && pushEnabled(config)) {
    app.use(pushRouter({ vapidPublicKey: config.VAPID_PUBLIC_KEY!, subscriptions: services.notifications.subscriptions, texts: services.notifications.texts, endpoints: pushEndpointPolicy(config.PUSH_ENDPOINT_HOSTS), audit: services.audit, logger }));
  }
  app.use(notFound());
  app.use(errorHandler(logger));
  return withFastRoutes(app, inbound ? fastRoutesOf({ config, logger, services, intents }) : new Map(), logger);
}

/** The enabled channels' routes answered ahead of express (their exact paths; every other request goes through it). */
function fastRoutesOf(deps: ChannelRouteDeps): FastRoutes {
  const routes: FastRoutes = new Map();
  for (const channel of enabledChannels(deps.config)) for (const [key, route] of channel.fastRoutes?.(deps) ?? []) routes.set(key, route);
  return routes;
}
