import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { operatorName } from '../http/admin';
import { cookieReader, secureCookie, SESSION_ID_VALUE } from '../http/cookies';
import type { AdminSessionStore } from '../store/admin-sessions';

export const CONSOLE_BASE = '/admin/console';
/** Holds only a random session id: the operator's name and the cross-site secret stay in Redis, and nothing is keyed with the admin token. */
export const CONSOLE_COOKIE = 'pmg_console_session';
/** The name the audit trail gets when the operator gave none (or one it cannot keep). */
export const DEFAULT_ACTOR = 'console';
export const actorOrDefault = (given: string | undefined | null): string => operatorName(given, DEFAULT_ACTOR);

export interface ConsoleSession {
  id: string;
  actor: string;
  /** A random secret of this session, the token every form carries. */
  csrf: string;
}

/** Secure unless the browser is on this machine (secureCookie, the queue dashboard's rule too). */
export const cookieOptions = (req: Request) => ({ httpOnly: true, sameSite: 'strict' as const, secure: secureCookie(req), path: CONSOLE_BASE });

const sessionIdOf = cookieReader(CONSOLE_COOKIE, SESSION_ID_VALUE);

/** The browser sessions of the console, kept in the dashboard's AdminSessionStore (so `sessions end-all` ends them too). */
export class ConsoleSessions {
  constructor(
    private readonly store: AdminSessionStore,
    private readonly token: string,
    private readonly ttlSeconds: number,
  ) {}

  async open(req: Request, res: Response, actor: string): Promise<void> {
    const id = await this.store.create(this.ttlSeconds, this.token, { actor, csrf: randomBytes(32).toString('base64url') });
    res.cookie(CONSOLE_COOKIE, id, { ...cookieOptions(req), maxAge: this.ttlSeconds * 1000 });
  }

  /** The session the cookie names, when it is live under the current admin token and was opened by the console. */
  async current(req: Request): Promise<ConsoleSession | null> {
    const id = sessionIdOf(req);
    if (!id) return null;
    const details = await this.store.details(id, this.token);
    if (!details || typeof details.actor !== 'string' || typeof details.csrf !== 'string') return null;
    return { id, actor: details.actor, csrf: details.csrf };
  }

  /** Ends the session in Redis, drops the cookie, and asks the browser to drop the pages it kept. */
  async close(req: Request, res: Response): Promise<void> {
    const session = await this.current(req);
    if (session) await this.store.end(session.id);
    res.clearCookie(CONSOLE_COOKIE, cookieOptions(req)).set('Clear-Site-Data', '"cache"');
  }
}
