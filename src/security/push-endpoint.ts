import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** The browsers' push services. An endpoint elsewhere is refused unless an operator names its host. */
const KNOWN_SERVICES: ReadonlyArray<(host: string) => boolean> = [
  (h) => h === 'fcm.googleapis.com',
  (h) => h === 'updates.push.services.mozilla.com',
  (h) => h.endsWith('.notify.windows.com'),
  (h) => h === 'web.push.apple.com',
];

// Addresses a push request must never reach unless the host is named: this machine, its links, its networks.
const INTERNAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) INTERNAL.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['2002::', 16]] as const) {
  INTERNAL.addSubnet(net, bits, 'ipv6');
}

/** True for loopback, link-local, private and other non-public addresses, IPv4-mapped and -compatible IPv6 included. */
export function isInternalAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return INTERNAL.check(bare, 'ipv4');
  if (family !== 6) return true;
  const embedded = embeddedIPv4(bare);
  if (embedded) return INTERNAL.check(embedded, 'ipv4');
  return INTERNAL.check(bare, 'ipv6');
}

/** The eight 16-bit groups of an IPv6 address, a trailing dotted quad included; null when malformed. */
function groups(v6: string): number[] | null {
  let text = v6.toLowerCase();
  const quad = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail, extra] = text.split('::');
  if (extra !== undefined) return null;
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  if (fill < 0) return null;
  const all = [...left, ...Array<string>(fill).fill('0'), ...right].map((g) => parseInt(g, 16));
  return all.length === 8 && all.every((g) => g >= 0 && g <= 0xffff) ? all : null;
}

/**
 * ::ffff:a.b.c.d (mapped, in any spelling), ::a.b.c.d (compatible) and ::ffff:0:a.b.c.d (RFC 2765 translated)
 * reach the IPv4 address they carry.
 */
function embeddedIPv4(v6: string): string | null {
  const g = groups(v6);
  if (!g) return null;
  const mappedOrCompatible = g.slice(0, 5).every((x) => x === 0) && (g[5] === 0 || g[5] === 0xffff);
  const translated = g.slice(0, 4).every((x) => x === 0) && g[4] === 0xffff && g[5] === 0;
  if (!mappedOrCompatible && !translated) return null;
  return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
}

/** `transient`: the host could not be looked up just now (EAI_AGAIN, ENOTFOUND, a timeout), which is no policy verdict. */
export type EndpointVerdict = { ok: true; named: boolean } | { ok: false; reason: string; transient?: true };

export interface PushEndpointPolicy {
  /** Scheme, host and (for hosts not named by the operator) the resolved addresses. */
  check(endpoint: string): Promise<EndpointVerdict>;
  /** For sockets to hosts not named: refuses an internal address at connect time, so a DNS answer that changes after check() is caught. */
  readonly guardedLookup: LookupFunction;
}

/**
 * `named` are PUSH_ENDPOINT_HOSTS entries: `host` (any port) or `host:port`. A named host may be plain http and
 * internal (how tests and the demo reach their local push services); everything else is https on a known service,
 * default port, resolving to public addresses only.
 */
export function pushEndpointPolicy(named: readonly string[], resolve: typeof dns.promises.lookup = dns.promises.lookup): PushEndpointPolicy {
  const entries = new Set(named.map((n) => n.trim().toLowerCase()).filter(Boolean));
  const isNamed = (url: URL) => entries.has(url.host.toLowerCase()) || entries.has(url.hostname.toLowerCase());

  const guardedLookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const bad = addresses.find((a) => isInternalAddress(a.address));
      if (bad || addresses.length === 0) {
        const refused = Object.assign(new Error('push endpoint resolves to an internal address'), { code: 'EPUSHINTERNAL' });
        return callback(refused, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };

  return {
    guardedLookup,
    async check(endpoint) {
      let url: URL;
      try {
        url = new URL(endpoint);
      } catch {
        return { ok: false, reason: 'is not a URL' };
      }
      if (url.username || url.password) return { ok: false, reason: 'must not carry credentials' };
      if (isNamed(url)) return url.protocol === 'https:' || url.protocol === 'http:' ? { ok: true, named: true } : { ok: false, reason: 'must be an http(s) URL' };
      if (url.protocol !== 'https:') return { ok: false, reason: 'must be https' };
      const host = url.hostname.toLowerCase();
      if (url.port !== '' || !KNOWN_SERVICES.some((known) => known(host))) return { ok: false, reason: 'is not on a known push service' };
      try {
        const addresses = await resolve(host, { all: true });
        if (addresses.length === 0 || addresses.some((a) => isInternalAddress(a.address))) return { ok: false, reason: 'resolves to an internal address' };
      } catch {
        // A resolver hiccup must not condemn a device: the sender retries, and the socket's guardedLookup checks again.
        return { ok: false, reason: 'does not resolve', transient: true };
      }
      return { ok: true, named: false };
    },
  };
}
