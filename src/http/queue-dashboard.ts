import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router } from 'express';
import { maskPersonal } from '../admin/masking';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { ADMIN_COOKIE, adminAuth } from './admin';
import { secretsEqual } from './auth';

const BASE = '/admin/queues';

/**
 * BullMQ's dashboard (bull-board ships no authentication) behind the admin token, with job data masked.
 * A browser cannot send a Bearer header, so `/admin/queues?token=…` exchanges the token for an HttpOnly cookie.
 */
export function queueDashboard(queues: Queue[], token: string, codec: PayloadCodec): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BASE);
  const adapters = queues.map((q) => {
    const adapter = new BullMQAdapter(q, { allowRetries: true });
    adapter.setFormatter('data', (data: unknown) => {
      try {
        return maskPersonal(codec.decode(data, sealContext.job(q.name)));
      } catch {
        return '[encrypted]';
      }
    });
    return adapter;
  });
  createBullBoard({ queues: adapters, serverAdapter, options: { uiConfig: { boardTitle: 'Primero gateway queues' } } });

  const router = Router();
  router.get(BASE, (req, res, next) => {
    const given = req.query.token;
    if (typeof given !== 'string') return next();
    if (!secretsEqual(given, token)) return next();
    res.cookie(ADMIN_COOKIE, given, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: BASE });
    res.redirect(303, BASE);
  });
  router.use(BASE, adminAuth(token, true), serverAdapter.getRouter());
  return router;
}
