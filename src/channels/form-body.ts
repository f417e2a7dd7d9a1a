import { accepted, rejected, type Parsed } from './parsed';

/** Form bodies are read raw (Twilio signs the exact pairs) and parsed here. */
export function readFormBody(body: unknown): Parsed<URLSearchParams> {
  if (!Buffer.isBuffer(body) || body.length === 0) return rejected(400, 'empty_body', 'The request has no body; send application/x-www-form-urlencoded fields.');
  return accepted(new URLSearchParams(body.toString('utf8')));
}

export function requireFields(params: URLSearchParams, names: string[]): Parsed<URLSearchParams> {
  const missing = names.filter((n) => !params.get(n));
  if (missing.length) return rejected(422, 'missing_fields', 'Required form fields are missing.', missing.map((path) => ({ path, problem: 'is required' })));
  return accepted(params);
}
