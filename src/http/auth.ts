import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { LoginThrottle } from '../store/login-throttle';
import { HttpError } from './errors';

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

/**
 * RapidPro's `Authorization: Token <t>` (set on a webhook node) or `?token=` (resthooks cannot set headers), from
 * the header and the parsed query's `token` (a repeated one is an array: no token).
 */
export function tokenFrom(authorization: string | undefined, queryToken: unknown): string | null {
  if (authorization) {
    const m = /^Token\s+(\S+)\s*$/i.exec(authorization);
    return m ? m[1]! : null;
  }
  return typeof queryToken === 'string' ? queryToken : null;
}

export const presentedToken = (req: Request): string | null => tokenFrom(req.get('authorization'), req.query.token);

/**
 * Every admin token check (dashboard login, Bearer on /admin, the dashboard and /metrics) goes through one
 * throttle per client address; a blocked address gets 429 whatever it sent. Behind a proxy `req.ip` is the
 * client only with TRUST_PROXY set; otherwise all clients share the proxy's count.
 */
export function throttledTokenCheck(expected: string, throttle: LoginThrottle): (req: Request, given: string) => Promise<boolean> {
  const matches = secretMatcher(expected);
  return async (req, given) => {
    const { ok, retryAfter } = await throttle.attempt(req.ip ?? 'unknown', () => given !== '' && matches(given));
    if (retryAfter > 0) throw new HttpError(429, 'too_many_logins', `Too many failed admin token attempts from this address: try again in ${Math.ceil(retryAfter / 60)} minutes.`, [], { 'Retry-After': String(retryAfter) });
    return ok;
  };
}
