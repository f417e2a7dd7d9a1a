import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';
import type { Logger } from '../logger';
import { errorAnswer, errorBody, internalError, type HttpError } from './errors';

/** A route answered before express's router: the request, its response and its raw query ('' without one). */
export type FastRoute = (req: IncomingMessage, res: ServerResponse, query: string) => Promise<void>;

/** `<METHOD> <exact path>` → its route. A path that differs in any way (case, trailing slash) goes to express. */
export type FastRoutes = Map<string, FastRoute>;

/**
 * What express's `res.status(status).json(body)` sends, the same headers in the same order (Content-Type with its
 * charset, Content-Length, the weak ETag express computes), without express's per-response machinery.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  for (const name in headers) res.setHeader(name, headers[name]!);
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(bytes.length));
  res.setHeader('ETag', `W/"${bytes.length.toString(16)}-${createHash('sha1').update(bytes).digest('base64').substring(0, 27)}"`);
  res.end(bytes);
}

/** The error answer of the express app (errors.ts sendError), for a fast route. */
function sendErrorAnswer(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, errorBody(err), err.headers);
}

/**
 * The path and raw query of a request target as express reads them (parseurl): the path ends at the first `?` or
 * `#`, the query at the `#` after it. Node passes a `#` on to the app; a query read past it would differ from
 * express's (`?token=T#x` is token `T` there).
 */
export function targetOf(url: string): { path: string; query: string } {
  const hash = url.indexOf('#');
  const target = hash < 0 ? url : url.slice(0, hash);
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/**
 * A fast route's throw, answered as the express error handler answers it. This runs in a promise's catch with
 * nothing above it, so a throw of its own (the logger, the write) would be an unhandled rejection that ends the
 * process; where express's finalhandler would step in, it answers the 500 itself, or closes the connection once
 * the headers are out (as finalhandler does).
 */
function answerFailure(res: ServerResponse, err: unknown, logger: Logger, path: string): void {
  try {
    if (!res.headersSent) sendErrorAnswer(res, errorAnswer(err, logger, path));
    else if (!res.writableEnded) res.destroy();
  } catch {
    try {
      if (res.headersSent) res.destroy();
      else sendErrorAnswer(res, internalError());
    } catch {
      res.destroy();
    }
  }
}

interface Dispatch {
  handle(req: IncomingMessage, res: ServerResponse, next?: unknown): void;
}

/**
 * Answers the inbound webhooks in `routes` ahead of express's router and middleware chain, which cost more per
 * request than storing the message does; every other request reaches the express app as before. It goes in at
 * `app.handle`, the entry both `app.listen` and supertest call, so tests drive the path production runs. A route
 * does what the express chain would (webhook metrics, auth, body limit, answers); a throw is answered as the
 * express error handler answers it.
 */
export function withFastRoutes(app: Express, routes: FastRoutes, logger: Logger): Express {
  if (routes.size === 0) return app;
  const dispatch = app as unknown as Dispatch;
  const viaExpress = dispatch.handle;
  dispatch.handle = function handle(this: unknown, req, res, next) {
    const { path, query } = targetOf(req.url ?? '');
    const route = routes.get(`${req.method} ${path}`);
    if (!route) return viaExpress.call(this, req, res, next);
    route(req, res, query).catch((err: unknown) => answerFailure(res, err, logger, path));
  };
  return app;
}
