import type { RequestHandler } from 'express';
import { presentedToken, secretMatcher } from '../../http/auth';
import { HttpError } from '../../http/errors';

/** The refusal of a call without the gateway token: the same answer and challenge on every RapidPro webhook. */
export const unauthorized = () =>
  new HttpError(401, 'unauthorized', 'Send the gateway token as "Authorization: Token <token>" or ?token=.', [], { 'WWW-Authenticate': 'Token' });

/** Whether a presented token (`tokenFrom`) is the gateway's; its digest is computed once. */
export function rapidProTokenMatcher(webhookToken: string): (token: string | null) => boolean {
  const tokenMatches = secretMatcher(webhookToken);
  return (token) => token !== null && tokenMatches(token);
}

/**
 * The RapidPro routes' token check (`Authorization: Token <t>` or `?token=`), for the intake routes and the status
 * route alike, so a flow author sees one behaviour on every gateway webhook.
 */
export function rapidProTokenCheck(webhookToken: string): RequestHandler {
  const matches = rapidProTokenMatcher(webhookToken);
  return (req, _res, next) => {
    if (!matches(presentedToken(req))) throw unauthorized();
    next();
  };
}
