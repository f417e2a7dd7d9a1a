import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import type { AdminSessionStore } from '../store/admin-sessions';

export const CONSOLE_BASE = '/admin/console';
/** Holds a random session id and the operator's name, bound together by an HMAC under the admin token; never the token. */
export const CONSOLE_COOKIE = 'pmg_console_session';
/** The name the audit trail gets when the operator gave none (or one it cannot keep). */
export const DEFAULT_ACTOR = 'console';
const ACTOR = /^[A-Za-z0-9._@-]{1,64}$/;

export const actorOrDefault = (given: string | undefined | null): string => (given && ACTOR.test(given) ? given : DEFAULT_ACTOR);

export interface ConsoleSession {
  id: string;
  actor: string;
}

const mac = (token: string, purpose: string, value: string) => createHmac('sha256', token).update(`console-${purpose}:${value}`).digest('base64url');

/** Constant-time equality of two tokens of the console's own making. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const cookieOptions = (req: Request) => ({ httpOnly: true, sameSite: 'strict' as const, secure: req.secure, path: CONSOLE_BASE });

/** The browser sessions of the console, kept in the dashboard's AdminSessionStore (so `sessions end-all` ends them too). */
export class ConsoleSessions {
  constructor(
    private readonly store: AdminSessionStore,
    private readonly token: string,
    private readonly ttlSeconds: number,
  ) {}

  async open(req: Request, res: Response, actor: string): Promise<void> {
    const id = await this.store.create(this.ttlSeconds, this.token);
    res.cookie(CONSOLE_COOKIE, `${id}~${actor}~${mac(this.token, 'operator', `${id}:${actor}`)}`, { ...cookieOptions(req), maxAge: this.ttlSeconds * 1000 });
  }

  /** The session the cookie names, when it is live under the current admin token and its operator name is the one given at log-in. */
  async current(req: Request): Promise<ConsoleSession | null> {
    const m = new RegExp(`(?:^|;\\s*)${CONSOLE_COOKIE}=([A-Za-z0-9_-]{20,100})~([A-Za-z0-9._@-]{1,64})~([A-Za-z0-9_-]{43})(?:;|$)`).exec(req.get('cookie') ?? '');
    if (!m) return null;
    const [, id, actor, given] = m as unknown as [string, string, string, string];
    if (!sameSecret(given, mac(this.token, 'operator', `${id}:${actor}`))) return null;
    return (await this.store.valid(id, this.token)) ? { id, actor } : null;
  }

  async close(req: Request, res: Response): Promise<void> {
    const session = await this.current(req);
    if (session) await this.store.end(session.id);
    res.clearCookie(CONSOLE_COOKIE, cookieOptions(req));
  }

  /** The cross-site request token of a session: an HMAC of its id, so nothing more is stored and a guess needs the admin token. */
  csrfToken(session: ConsoleSession): string {
    return mac(this.token, 'csrf', session.id);
  }
}

/**
 * A form posted from another site is refused whatever it carries: the browser says where a request comes from
 * (Sec-Fetch-Site, Origin) and a console page only ever posts to its own origin. Behind a proxy named by
 * TRUST_PROXY, `req.host` is the host the browser used (X-Forwarded-Host).
 */
export function crossSite(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
  const origin = req.get('origin');
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.host;
  } catch {
    return true;
  }
}
