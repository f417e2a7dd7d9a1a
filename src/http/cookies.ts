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
