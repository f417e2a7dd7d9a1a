import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

/** Constant-time comparison; hashing first makes the lengths equal, so the length is not leaked either. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
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
