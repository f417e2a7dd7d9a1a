import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from '../logger';

export interface ErrorDetail {
  path?: string;
  problem: string;
}

/** An answer the caller can act on: a stable code, a sentence, and what exactly was wrong (never the values). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The body of every error answer: `{"error":{"code","message","details"}}`. */
export const errorBody = (err: HttpError) => ({ error: { code: err.code, message: err.message, details: err.details } });

export function sendError(res: Response, err: HttpError): void {
  res.set(err.headers).status(err.status).json(errorBody(err));
}

/** body-parser's own errors, translated; its messages can quote the body, so none is passed on. */
function fromBodyParser(thrown: unknown): HttpError | null {
  // Anything can be thrown, undefined and null included.
  const err = (typeof thrown === 'object' && thrown !== null ? thrown : {}) as { type?: unknown; status?: unknown; limit?: unknown };
  switch (err.type) {
    case 'entity.too.large':
      return new HttpError(413, 'body_too_large', `The body is larger than the ${typeof err.limit === 'number' ? err.limit : 262144} bytes this route accepts.`);
    case 'entity.parse.failed':
      return new HttpError(400, 'malformed_body', 'The body could not be parsed.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, 'unsupported_encoding', 'The body uses an encoding this route does not accept.');
    case 'request.aborted':
    case 'request.size.invalid':
      return new HttpError(400, 'incomplete_body', 'The body ended before its declared length.');
    default:
      // Any other client error body-parser raises (http-errors with a 4xx status): a generic answer, no echo.
      return typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? new HttpError(err.status, 'bad_request', 'The request could not be read.') : null;
  }
}

export function notFound(): RequestHandler {
  return (_req, res) => sendError(res, new HttpError(404, 'not_found', 'No such route, or the channel is not configured.'));
}

/** The answer to a failure the gateway cannot name to the caller. */
export const internalError = () => new HttpError(500, 'internal_error', 'The gateway failed to handle this request; nothing was stored.');

/** The answer to an error a route threw or passed on (`route` is the request's path, for the log line only). */
export function errorAnswer(err: unknown, logger: Logger, route: string): HttpError {
  const known = err instanceof HttpError ? err : fromBodyParser(err);
  if (known) return known;
  logger.error({ err, route }, 'unhandled error in request');
  return internalError();
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => sendError(res, errorAnswer(err, logger, req.path));
}
