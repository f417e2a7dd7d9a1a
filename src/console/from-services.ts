import path from 'node:path';
import type { RedisConnection } from '../queues/connection';
import type { Router } from 'express';
import type { ApiServices } from '../api-services';
import type { Config } from '../config';
import { DeviceAdmin } from '../admin/devices';
import type { Logger } from '../logger';
import { pushEnabled } from '../notifications/services';
import { QUEUES } from '../queues/names';
import { AdminSessionStore } from '../store/admin-sessions';
import type { LoginThrottle } from '../store/login-throttle';
import { ReplayBatches } from '../store/replay-batches';
import { operatorConsole } from './router';
import { isLoopback } from '../http/cookies';
import { loadConsoleTexts } from './texts';

export interface ConsoleMount {
  config: Config;
  services: ApiServices;
  redis: RedisConnection;
  loginThrottle: LoginThrottle;
  logger: Logger;
}

/**
 * Reached from other machines without TRUST_PROXY, the console cannot tell HTTPS at a proxy from plain HTTP: its
 * cookies are marked Secure anyway, but `req.secure`, the forwarded host and the client address are not known.
 */
function warnIfReachableWithoutProxy(config: Config, logger: Logger): void {
  const host = config.ADMIN_PORT === 0 ? '0.0.0.0' : config.ADMIN_HOST;
  if (isLoopback(host) || (config.TRUST_PROXY !== undefined && config.TRUST_PROXY !== false)) return;
  logger.warn({ host }, 'the operator console is reachable from other machines and TRUST_PROXY is not set: serve it over HTTPS through a proxy and name that proxy in TRUST_PROXY');
}

/** The console over the process's own services (the ones the JSON admin routes get); its texts are read here, at start. */
export function operatorConsoleFor({ config, services, redis, loginThrottle, logger }: ConsoleMount): Router {
  const push = pushEnabled(config);
  warnIfReachableWithoutProxy(config, logger);
  return operatorConsole({
    token: config.ADMIN_TOKEN!,
    loginThrottle,
    sessions: new AdminSessionStore(redis, config.QUEUE_PREFIX),
    sessionTtlSeconds: config.ADMIN_SESSION_TTL_HOURS * 3600,
    texts: loadConsoleTexts(path.join(config.MAPPING_DIR, 'console-texts.json')),
    overview: services.overview,
    deadLetters: services.deadLetters,
    queueNames: services.queues.map((q) => q.name),
    trace: { references: services.references, trace: services.trace, intakeQueue: services.registry.get(QUEUES.intake) },
    devices: push ? new DeviceAdmin(services.notifications.subscriptions, services.audit) : null,
    enrollment: push ? { subscriptions: services.notifications.subscriptions, publicUrl: config.PUBLIC_URL, ttlHours: config.ENROLLMENT_TTL_HOURS } : null,
    audit: services.audit,
    forget: services.forget,
    logger,
    publicUrl: config.PUBLIC_URL,
    replayBatches: new ReplayBatches(redis, config.QUEUE_PREFIX),
  });
}
