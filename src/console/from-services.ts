import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Router } from 'express';
import type { ApiServices } from '../api-services';
import type { Config } from '../config';
import { DeviceAdmin } from '../admin/devices';
import type { Logger } from '../logger';
import { pushEnabled } from '../notifications/services';
import { QUEUES } from '../queues/names';
import { AdminSessionStore } from '../store/admin-sessions';
import type { LoginThrottle } from '../store/login-throttle';
import { operatorConsole } from './router';
import { loadConsoleTexts } from './texts';

export interface ConsoleMount {
  config: Config;
  services: ApiServices;
  redis: Redis;
  loginThrottle: LoginThrottle;
  logger: Logger;
}

/** The console over the process's own services (the ones the JSON admin routes get); its texts are read here, at start. */
export function operatorConsoleFor({ config, services, redis, loginThrottle, logger }: ConsoleMount): Router {
  const push = pushEnabled(config);
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
  });
}
