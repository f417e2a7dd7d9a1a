import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { readJsonBody } from '../channels/body';
import { valueOrRefuse } from '../channels/refuse';
import { HttpError, type ErrorDetail } from './errors';

export const WEBHOOK_BODY_LIMIT = 256 * 1024;

/**
 * Bytes that bodies past WEBHOOK_BODY_LIMIT may hold in memory at once, across the requests of the route that holds it: a
 * client that opens many large uploads and stalls gets 503 (a sender that retries, as Meta does, loses nothing)
 * instead of growing the process's buffers, which live outside the capped V8 heap, until it is killed.
 */
export class LargeBodyBudget {
  private inFlight = 0;
  constructor(readonly maxBytes: number) {}
  take(bytes: number): boolean {
    if (this.inFlight + bytes > this.maxBytes) return false;
    this.inFlight += bytes;
    return true;
  }
  give(bytes: number): void {
    this.inFlight = Math.max(0, this.inFlight - bytes);
  }
}

/**
 * Reads the request body as bytes, whatever its Content-Type: RapidPro flows built in the old editor POST JSON
 * with none, and signatures are computed over the exact bytes. A plain reader with a size limit (the limit is
 * mailroom's own request ceiling): body-parser's general machinery was a fifth of the ingest path's CPU.
 */
export function readRawBody(limit = WEBHOOK_BODY_LIMIT, budget?: LargeBodyBudget): RequestHandler {
  const tooLarge = () => new HttpError(413, 'body_too_large', `The body is larger than the ${limit} bytes this route accepts.`);
  const busy = () => new HttpError(503, 'busy', 'Too many large bodies are being received at once; send it again shortly.', [], { 'Retry-After': '5' });
  return (req, res, next) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) {
      req.resume();
      return next(tooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let taken = 0;
    let failed = false;
    const release = () => {
      budget?.give(taken);
      taken = 0;
    };
    const fail = (err: HttpError) => {
      failed = true;
      release();
      chunks.length = 0;
      req.resume();
      next(err);
    };
    // Held until the answer is sent or the connection drops: a stalled upload keeps its share, a done one gives it back.
    res.once('close', release);
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) return fail(tooLarge());
      // Only what lies past the ordinary limit is budgeted: small bodies are never refused for a large one's sake.
      const over = Math.max(0, size - WEBHOOK_BODY_LIMIT) - taken;
      if (budget && over > 0) {
        if (!budget.take(over)) return fail(busy());
        taken += over;
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
      fail(new HttpError(400, 'incomplete_body', 'The body ended before its declared length.'));
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
