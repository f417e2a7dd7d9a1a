import type { Redis } from 'ioredis';
import type { PrimeroClient } from '../src/clients/primero';
import { snapshotOf } from '../src/domain/record-events';
import type { Logger } from '../src/logger';
import type { PrimeroEventProducer } from '../src/queues/primero-events';
import { gatewayKey } from '../src/store/keys';

export interface PollerDeps {
  primero: PrimeroClient;
  events: PrimeroEventProducer;
  redis: Redis;
  prefix: string;
  logger: Logger;
  /** The cursor starts this far back the first time, so a fresh gateway does not read all history. */
  initialLookbackMs: number;
}

const PAGE = 100;
const MAX_PAGES = 50;

/**
 * The fallback for lost or disabled Primero webhooks: reads cases changed since the cursor
 * (`last_updated_at`, oldest first) and feeds each into the same queue the webhook feeds. The cursor moves
 * to the newest change seen; the range is inclusive and the queue deduplicates, so same-second changes are
 * neither lost nor notified twice.
 */
export function pollerProcessor(deps: PollerDeps) {
  const cursorKey = gatewayKey(deps.prefix, 'poll', 'cursor');
  return async (): Promise<string> => {
    const from = (await deps.redis.get(cursorKey)) ?? new Date(Date.now() - deps.initialLookbackMs).toISOString();
    const to = new Date().toISOString();
    let newest = from;
    let queued = 0;
    for (let page = 1; page <= MAX_PAGES; page++) {
      const records = await deps.primero.listChangedCases(from, to, page, PAGE);
      for (const r of records) {
        const snapshot = snapshotOf(r, 'case');
        if (!snapshot) continue;
        if (await deps.events.submit(snapshot)) queued++;
        if (Date.parse(snapshot.lastUpdatedAt) > Date.parse(newest)) newest = snapshot.lastUpdatedAt;
      }
      if (records.length < PAGE) break;
    }
    await deps.redis.set(cursorKey, newest);
    deps.logger.info({ queued, cursor: newest }, 'poll done');
    return `queued ${queued}`;
  };
}
