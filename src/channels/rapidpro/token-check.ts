import type { RequestHandler } from 'express';
import { presentedToken, secretMatcher } from '../../http/auth';
import { HttpError } from '../../http/errors';

/**
 * The RapidPro routes' token check (`Authorization: Token <t>` or `?token=`), as route.ts does it for the intake
 * routes: the same answer and challenge, so a flow author sees one behaviour on every gateway webhook.
 */
export function rapidProTokenCheck(webhookToken: string): RequestHandler {
  const tokenMatches = secretMatcher(webhookToken);
  return (req, _res, next) => {
    const token = presentedToken(req);
    if (token === null || !tokenMatches(token)) {
      throw new HttpError(401, 'unauthorized', 'Send the gateway token as "Authorization: Token <token>" or ?token=.', [], { 'WWW-Authenticate': 'Token' });
    }
    next();
  };
}
