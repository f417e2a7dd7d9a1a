import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { readJsonBody } from '../channels/body';
import { valueOrRefuse } from '../channels/refuse';
import { HttpError, type ErrorDetail } from './errors';

export const WEBHOOK_BODY_LIMIT = 256 * 1024;

/**
 * Reads the request body as bytes, whatever its Content-Type: RapidPro flows built in the old editor POST JSON
 * with none, and signatures are computed over the exact bytes. A plain reader with a size limit (the limit is
 * mailroom's own request ceiling): body-parser's general machinery was a fifth of the ingest path's CPU.
 */
export function readRawBody(limit = WEBHOOK_BODY_LIMIT): RequestHandler {
  const tooLarge = () => new HttpError(413, 'body_too_large', `The body is larger than the ${limit} bytes this route accepts.`);
  return (req, _res, next) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) {
      req.resume();
      return next(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        next(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (failed) return;
      req.body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      next();
    });
    req.once('error', () => {
      if (failed) return;
      failed = true;
      next(new HttpError(400, 'incomplete_body', 'The body ended before its declared length.'));
    });
  };
}

export const rawBody: RequestHandler = readRawBody();

/** The JSON a body holds, or the 400 every JSON route gives thrown as the answer (Primero's webhooks read one). */
export const parseJsonBody = (body: unknown): unknown => valueOrRefuse(readJsonBody(body));

/** Zod issues as paths and problems; zod's messages name expected types, never the submitted value. */
export function validationDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || '(body)', problem: i.message }));
}
