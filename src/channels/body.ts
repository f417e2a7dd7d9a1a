import { accepted, rejected, type Parsed } from './parsed';

/**
 * The body readers, answering `Parsed` (a refusal, never a throw). Bodies are read raw (signatures are over
 * the exact bytes; see `http/json-body.ts` readRawBody) and parsed here. The routes that throw their 400
 * (`parseJsonBody`, `parseFormBody` in `http/`) are these through `valueOrRefuse`, in that direction only.
 */
export function readJsonBody(body: unknown): Parsed<unknown> {
  if (!Buffer.isBuffer(body) || body.length === 0) return rejected(400, 'empty_body', 'The request has no body; send a JSON object.');
  try {
    return accepted(JSON.parse(body.toString('utf8').replace(/^\uFEFF/, '')));
  } catch {
    return rejected(400, 'malformed_json', 'The body is not valid JSON.');
  }
}

/** Form bodies' fields (Twilio signs the exact pairs). */
export function readFormBody(body: unknown): Parsed<URLSearchParams> {
  if (!Buffer.isBuffer(body) || body.length === 0) return rejected(400, 'empty_body', 'The request has no body; send application/x-www-form-urlencoded fields.');
  return accepted(new URLSearchParams(body.toString('utf8')));
}

export function requireFields(params: URLSearchParams, names: string[]): Parsed<URLSearchParams> {
  const missing = names.filter((n) => !params.get(n));
  if (missing.length) return rejected(422, 'missing_fields', 'Required form fields are missing.', missing.map((path) => ({ path, problem: 'is required' })));
  return accepted(params);
}
