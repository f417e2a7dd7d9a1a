import { z } from 'zod';

export interface DeadLetterFilter {
  queue?: string;
  /** Case-insensitive substring of the failure reason, e.g. "422" or "Primero rejected". */
  error?: string;
  /** Failed at least / at most this many hours ago. */
  minAgeHours?: number;
  maxAgeHours?: number;
}

/*
 * Every way a filter could be read as no filter is refused: a replay whose filter silently widened would move every
 * dead letter back. Strict, so a misspelt key ("queu") is named instead of dropped; an empty queue, error or age is a
 * field left out, not a filter; an age that is not a number ("2d") is refused, never compared as NaN (always false).
 */
const notEmpty = (what: string) => [(s: string) => s.trim() !== '', { error: `an empty ${what} matches every dead letter: leave it out instead` }] as const;
// A number, or a string of digits (a query string, a form, the CLI): never null, true, [48] or "0x10", which a
// coercion would read as 0, 1, 48 and 16.
const hours = z.preprocess(
  (v) => (typeof v === 'string' ? (/^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : Number.NaN) : v),
  z.number({ error: 'a number of hours, e.g. 48' }).finite({ error: 'a number of hours, e.g. 48' }).nonnegative({ error: 'a number of hours, 0 or more' }),
);
const filterSchema = z.strictObject({
  queue: z.string().max(64).refine(...notEmpty('queue name')).optional(),
  error: z.string().max(200).refine(...notEmpty('error filter')).optional(),
  min_age_hours: hours.optional(),
  max_age_hours: hours.optional(),
});

/** A filter as given (snake_case, as the JSON routes and the console's form name it), read or refused with every problem. */
export function parseDeadLetterFilter(input: unknown): { ok: true; filter: DeadLetterFilter } | { ok: false; error: z.ZodError } {
  const parsed = filterSchema.safeParse(input ?? {});
  if (!parsed.success) return { ok: false, error: parsed.error };
  const f = parsed.data;
  return { ok: true, filter: { queue: f.queue, error: f.error, minAgeHours: f.min_age_hours, maxAgeHours: f.max_age_hours } };
}

/** A filter built in code that would match more than it says (an age of NaN is never compared, an empty error matches all). */
export function assertNarrowing(f: DeadLetterFilter): void {
  const badAge = [f.minAgeHours, f.maxAgeHours].some((h) => h !== undefined && !(Number.isFinite(h) && h >= 0));
  if (badAge || f.error?.trim() === '' || f.queue?.trim() === '') throw new Error('dead-letter filter refused: an empty field or an age that is not a number would match every dead letter');
}
