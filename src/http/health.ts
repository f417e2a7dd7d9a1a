import { Router } from 'express';
import type { RedisConnection } from '../queues/connection';

/** `/healthz` says the process serves; `/readyz` says it can store messages (Redis answers). */
export function healthRouter(redis: RedisConnection, timeoutMs = 1000): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      });
      await Promise.race([redis.ping(), timeout]);
      res.json({ status: 'ready', redis: 'ok' });
    } catch {
      res.status(503).json({ status: 'not_ready', redis: 'unavailable' });
    } finally {
      clearTimeout(timer);
    }
  });
  return router;
}
