import { HttpError } from './errors';

/** Form bodies are read raw (Twilio signs the exact pairs) and parsed here. */
export function parseFormBody(body: unknown): URLSearchParams {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpError(400, 'empty_body', 'The request has no body; send application/x-www-form-urlencoded fields.');
  return new URLSearchParams(body.toString('utf8'));
}

export function requireFields(params: URLSearchParams, names: string[]): void {
  const missing = names.filter((n) => !params.get(n));
  if (missing.length) {
    throw new HttpError(422, 'missing_fields', 'Required form fields are missing.', missing.map((path) => ({ path, problem: 'is required' })));
  }
}
