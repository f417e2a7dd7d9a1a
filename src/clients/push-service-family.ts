/**
 * Which browser push service an endpoint belongs to, as a metric label: a handful of fixed words, never the
 * endpoint (its path identifies one device) nor an operator's own host from PUSH_ENDPOINT_HOSTS.
 */
export const PUSH_SERVICE_FAMILIES = ['fcm', 'mozilla', 'windows', 'apple', 'other'] as const;
export type PushServiceFamily = (typeof PUSH_SERVICE_FAMILIES)[number];

export function pushServiceFamily(endpoint: string): PushServiceFamily {
  let host: string;
  try {
    host = new URL(endpoint).hostname.toLowerCase();
  } catch {
    return 'other';
  }
  if (host === 'fcm.googleapis.com' || host === 'android.googleapis.com') return 'fcm';
  if (host === 'push.services.mozilla.com' || host.endsWith('.push.services.mozilla.com')) return 'mozilla';
  if (host.endsWith('.notify.windows.com')) return 'windows';
  if (host === 'push.apple.com' || host.endsWith('.push.apple.com')) return 'apple';
  return 'other';
}
