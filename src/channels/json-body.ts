import { HttpError } from '../http/errors';
import { parseJsonBody } from '../http/json-body';
import { accepted, type Parsed } from './parsed';

/** The JSON a body holds, or the same 400 every JSON route gives, as a refusal instead of a throw. */
export function readJsonBody(body: unknown): Parsed<unknown> {
  try {
    return accepted(parseJsonBody(body));
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return { ok: false, rejection: { status: err.status, code: err.code, message: err.message, details: err.details } };
  }
}
