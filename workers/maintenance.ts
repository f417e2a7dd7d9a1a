import type { Queue } from 'bullmq';
import type { Logger } from '../src/logger';
import { purgeExpired, type RetentionPolicy } from '../src/queues/retention';

/** The retention run over every gateway queue, every RETENTION_INTERVAL_MINUTES. */
export function maintenanceProcessor(queues: Queue[], retention: RetentionPolicy, logger: Logger) {
  return async (): Promise<Record<string, number>> => purgeExpired(queues, retention, logger);
}
