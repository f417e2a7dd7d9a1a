import { HttpError } from '../http/errors';
import type { Parsed } from './parsed';

/** A route's use of a parser: the value, or the parser's refusal thrown as the HTTP answer. */
export function valueOrRefuse<T>(parsed: Parsed<T>): T {
  if (parsed.ok) return parsed.value;
  const { status, code, message, details } = parsed.rejection;
  throw new HttpError(status, code, message, details);
}
