import express, { type RequestHandler } from 'express';
import type { z } from 'zod';
import { HttpError, type ErrorDetail } from './errors';

export const WEBHOOK_BODY_LIMIT = 256 * 1024;

/**
 * RapidPro flows built in the old editor POST JSON with no Content-Type, so the body is read raw whatever
 * the header says and parsed here. The limit matches mailroom's own request ceiling.
 */
export const rawBody: RequestHandler = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });

export function parseJsonBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpError(400, 'empty_body', 'The request has no body; send a JSON object.');
  try {
    return JSON.parse(body.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    throw new HttpError(400, 'malformed_json', 'The body is not valid JSON.');
  }
}

/** Zod issues as paths and problems; zod's messages name expected types, never the submitted value. */
export function validationDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || '(body)', problem: i.message }));
}
