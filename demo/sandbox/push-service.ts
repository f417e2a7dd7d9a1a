import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

// The push-service sandbox used by `npm run demo` and by the tests.

/** RFC 8291 decryption of one aes128gcm record, as the browser does it. Throws on any mismatch. */
export function decryptAes128gcm(body: Buffer, receiver: ECDH, auth: Buffer): string {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  if (idlen !== 65) throw new Error(`keyid length ${idlen}, expected 65`);
  const senderPublic = body.subarray(21, 86);
  const ct = body.subarray(86);
  if (ct.length > rs) throw new Error('more than one record');
  const ecdhSecret = receiver.computeSecret(senderPublic);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), receiver.getPublicKey(), senderPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, auth, info, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ct.subarray(-16));
  let plain = Buffer.concat([decipher.update(ct.subarray(0, -16)), decipher.final()]);
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  if (plain[end - 1] !== 2) throw new Error('last record delimiter is not 0x02');
  plain = plain.subarray(0, end - 1);
  return plain.toString('utf8');
}

export interface VapidClaims {
  aud: string;
  exp: number;
  sub: string;
}

/** A refused VAPID authorization, with the status a push service answers it (RFC 8292 §4). */
export class VapidRefusal extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

/** Verifies `Authorization: vapid t=<JWT>, k=<key>` (RFC 8292) and returns the claims. */
export function verifyVapid(header: string | undefined, endpointOrigin: string, expectedKey: string): VapidClaims {
  const t = /t=([^,\s]+)/.exec(header ?? '')?.[1];
  const k = /k=([^,\s]+)/.exec(header ?? '')?.[1];
  if (!t || !k) throw new VapidRefusal(401, 'no vapid authorization');
  // FCM's answer to a subscription made with another applicationServerKey.
  if (k !== expectedKey) throw new VapidRefusal(403, 'vapid key differs from the subscription key');
  const [h, p, sig] = t.split('.');
  const raw = Buffer.from(k, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33, 65).toString('base64url') }, format: 'jwk' });
  if (!verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig!, 'base64url'))) throw new VapidRefusal(403, 'bad vapid signature');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as VapidClaims;
  const now = Math.floor(Date.now() / 1000);
  if (claims.aud !== endpointOrigin) throw new VapidRefusal(403, `aud ${claims.aud} is not ${endpointOrigin}`);
  if (!(claims.exp > now && claims.exp <= now + 24 * 3600)) throw new VapidRefusal(403, 'exp not within 24 h');
  if (!/^(mailto:|https:)/.test(claims.sub)) throw new VapidRefusal(403, 'sub is not mailto: or https:');
  return claims;
}

export interface PushDelivery {
  device: string;
  headers: http.IncomingHttpHeaders;
  plaintext: string;
  claims: VapidClaims;
  at: number;
}

/** A scripted answer; `meanwhile` runs before it is sent, as something the browser does while the request is in flight. */
export interface ScriptedReply {
  status: number;
  headers?: Record<string, string>;
  meanwhile?: () => Promise<void>;
}

interface Device {
  ecdh: ECDH;
  auth: Buffer;
  /** The applicationServerKey the browser subscribed with: a push under another VAPID key is refused. */
  serverKey: string;
}

/**
 * A push service on loopback that behaves like the browser's: it decrypts what it receives with the
 * device's keys and checks the VAPID JWT, so a test sees exactly what a caseworker's phone would display.
 */
export class FakePushService {
  readonly deliveries: PushDelivery[] = [];
  readonly attempts: Array<{ device: string; at: number; status: number }> = [];
  readonly errors: string[] = [];
  private readonly devices = new Map<string, Device>();
  private readonly scripted = new Map<string, ScriptedReply[]>();
  private server: http.Server | null = null;

  constructor(private readonly vapidPublicKey: string) {}

  static async start(vapidPublicKey: string): Promise<FakePushService> {
    const s = new FakePushService(vapidPublicKey);
    s.server = http.createServer((req, res) => s.handle(req, res));
    await new Promise<void>((r) => s.server!.listen(0, '127.0.0.1', r));
    return s;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /**
   * A new browser subscription: fresh P-256 keys and auth secret, as pushManager.subscribe makes, under the
   * service's VAPID public key unless given another (a device that subscribed before a key change).
   */
  subscribe(device: string, serverKey: string = this.vapidPublicKey) {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.devices.set(device, { ecdh, auth, serverKey });
    return { endpoint: `${this.origin}/push/${device}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
  }

  /** The next answers for a device, before it goes back to 201. */
  answerNext(device: string, ...replies: ScriptedReply[]): void {
    this.scripted.set(device, [...(this.scripted.get(device) ?? []), ...replies]);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const device = (req.url ?? '').split('/').pop() ?? '';
      const scripted = this.scripted.get(device)?.shift();
      const at = Date.now();
      if (scripted) {
        this.attempts.push({ device, at, status: scripted.status });
        void Promise.resolve(scripted.meanwhile?.())
          .catch((err: Error) => void this.errors.push(err.message))
          .finally(() => res.writeHead(scripted.status, scripted.headers).end());
        return;
      }
      try {
        const body = Buffer.concat(chunks);
        const d = this.devices.get(device);
        if (!d) throw new Error(`unknown device ${device}`);
        if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error('content-encoding is not aes128gcm');
        if (!/^\d+$/.test(String(req.headers.ttl ?? ''))) throw new Error('TTL missing');
        if (body.length > 4096) {
          this.attempts.push({ device, at, status: 413 });
          res.writeHead(413).end();
          return;
        }
        const claims = verifyVapid(req.headers.authorization, this.origin, d.serverKey);
        const plaintext = decryptAes128gcm(body, d.ecdh, d.auth);
        this.deliveries.push({ device, headers: req.headers, plaintext, claims, at });
        this.attempts.push({ device, at, status: 201 });
        res.writeHead(201, { Location: `${this.origin}/message/${this.deliveries.length}`, TTL: String(req.headers.ttl) }).end();
      } catch (err) {
        this.errors.push((err as Error).message);
        const status = err instanceof VapidRefusal ? err.status : 400;
        this.attempts.push({ device, at, status });
        res.writeHead(status).end();
      }
    });
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
