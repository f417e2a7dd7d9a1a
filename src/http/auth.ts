import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison; hashing first makes the lengths equal, so the length is not leaked either. */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The same check for a secret known at start: its digest is computed once, not on every request. */
export function secretMatcher(expected: string): (given: string) => boolean {
  const want = digest(expected);
  return (given) => timingSafeEqual(digest(given), want);
}

/** RapidPro's `Authorization: Token <t>` (set on a webhook node) or `?token=` (resthooks cannot set headers). */
export function presentedToken(req: Request): string | null {
  const header = req.get('authorization');
  if (header) {
    const m = /^Token\s+(\S+)\s*$/i.exec(header);
    return m ? m[1]! : null;
  }
  const q = req.query.token;
  return typeof q === 'string' ? q : null;
}
