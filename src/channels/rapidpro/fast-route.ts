import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Request, Response } from 'express';
import { tokenFrom } from '../../http/auth';
import type { FastRoutes } from '../../http/fast-routes';
import { sendJson } from '../../http/fast-routes';
import { rawBody } from '../../http/json-body';
import type { GatewayMetrics, WebhookMarks } from '../../http/metrics';
import { acceptIntent, type RapidProRouteDeps } from './route';
import { rapidProTokenMatcher, unauthorized } from './token-check';

/** The body as the express route reads it (rawBody: its limit, its 400 and 413), or the refusal thrown. */
const bodyOf = (req: IncomingMessage, res: ServerResponse) =>
  new Promise<unknown>((resolve, reject) => {
    const request = req as Request;
    rawBody(request, res as Response, (err?: unknown) => (err ? reject(err) : resolve(request.body)));
  });

/**
 * `POST /webhooks/rapidpro/<intent>` at its exact path, ahead of express (src/http/fast-routes.ts): the same steps
 * as the express chain in the same order — webhook metrics, token (header, else the query's `token` as express's
 * simple query parser reads it), body, accept — and the same answers. Other spellings of the path reach
 * rapidProRouter.
 */
export function rapidProFastRoutes(deps: RapidProRouteDeps, watch: ReturnType<GatewayMetrics['webhookWatcher']>): FastRoutes {
  const matches = rapidProTokenMatcher(deps.webhookToken);
  const routes: FastRoutes = new Map();
  for (const intent of deps.intents) {
    const path = `/webhooks/rapidpro/${intent}`;
    routes.set(`POST ${path}`, async (req, res, query) => {
      const marks: WebhookMarks = {};
      watch(path, res, marks);
      if (!matches(tokenFrom(req.headers.authorization, query === '' ? undefined : parseQuery(query).token))) throw unauthorized();
      const mode = req.headers['x-mailroom-mode'];
      const answered = await acceptIntent(deps, intent, await bodyOf(req, res), Array.isArray(mode) ? mode.join(', ') : mode);
      marks.duplicate = answered.duplicate;
      sendJson(res, 202, answered.body);
    });
  }
  return routes;
}
