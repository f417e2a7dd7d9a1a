import type { Request } from 'express';

/** A session id the gateway made: random base64url, never anything a browser could make meaningful. */
export const SESSION_ID_VALUE = '[A-Za-z0-9_-]{20,100}';

/**
 * A reader of cookie `name`: its value when it has the shape `valuePattern` (a regex source, matched whole), else
 * null. The gateway reads only cookies it set itself, so no cookie library: anything of another shape is ignored.
 */
export function cookieReader(name: string, valuePattern: string): (req: Request) => string | null {
  const pattern = new RegExp(`(?:^|;\\s*)${name}=(${valuePattern})(?:;|$)`);
  return (req) => pattern.exec(req.get('cookie') ?? '')?.[1] ?? null;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** The browser reached this process on its own machine: the one place plain HTTP is all there is. */
export const isLoopback = (hostname: string): boolean => LOOPBACK.has(hostname.toLowerCase());

/**
 * Whether a session cookie gets the Secure flag: yes unless the browser is on this machine over plain HTTP. TLS
 * usually ends at a proxy, and without TRUST_PROXY `req.secure` alone would say "plain HTTP" and the cookie would
 * travel without the flag; a request known to be HTTPS keeps it even on a loopback name.
 */
export const secureCookie = (req: Request): boolean => req.secure || !isLoopback(req.hostname);
