import type { Request } from 'express';

const originOf = (url: string): string | null => {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
};

/**
 * Whether a POST comes from another site, whatever it carries: the browser says where a request comes from
 * (Sec-Fetch-Site, Origin) and a console page only ever posts to its own origin. That origin is PUBLIC_URL's when set
 * (compared whole: scheme, host, port — behind a proxy that rewrites Host it is the only one known), or the request's
 * own host: X-Forwarded-Host behind a proxy named by TRUST_PROXY, and the scheme too once the request is known to be
 * HTTPS. A request with neither header is not from a browser page (curl, a script with the Bearer token): let through.
 */
export function crossSiteCheck(publicUrl: string | undefined): (req: Request) => boolean {
  const publicOrigin = publicUrl ? originOf(publicUrl) : null;
  return (req) => {
    const site = req.get('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
    const given = req.get('origin');
    if (given === undefined) return false;
    const origin = originOf(given);
    if (origin === null || origin === 'null') return true;
    if (origin === publicOrigin) return false;
    const url = new URL(origin);
    return url.host !== req.host || (req.secure && url.protocol !== 'https:');
  };
}

export type CrossSiteCheck = ReturnType<typeof crossSiteCheck>;
