import { isInternalAddress, pushEndpointPolicy } from '../../src/security/push-endpoint';

describe('internal addresses a push request must not reach', () => {
  it.each([
    '127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '::1', '::', 'fe80::1', 'fe80::1%eth0', 'fd12:3456::1', 'fc00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:a9fe:a9fe',
    '::ffff:10.0.0.1', '::127.0.0.1', '[::1]', 'not-an-address',
    // RFC 2765 translated (::ffff:0:a.b.c.d) and RFC 8215 local-use NAT64 (64:ff9b:1::/48).
    '::ffff:0:127.0.0.1', '::ffff:0:a9fe:a9fe', '0:0:0:0:ffff:0:a00:1', '64:ff9b:1::a00:1', '64:ff9b:1:ffff::1',
  ])('%s is internal', (address) => expect(isInternalAddress(address)).toBe(true));

  it.each(['142.250.180.10', '8.8.8.8', '172.32.0.1', '2a00:1450:4001:81d::200a', '::ffff:8.8.8.8', '::ffff:0:8.8.8.8', '64:ff9b:2::1'])('%s is public', (address) => expect(isInternalAddress(address)).toBe(false));
});

describe('which endpoints a subscription may name', () => {
  const publicDns = (async () => [{ address: '142.250.180.10', family: 4 }]) as never;
  const policy = pushEndpointPolicy(['push.example.org', 'localhost:8443'], publicDns);

  it.each([
    ['https://fcm.googleapis.com/fcm/send/x', true],
    ['https://updates.push.services.mozilla.com/wpush/v2/x', true],
    ['https://db5p.notify.windows.com/w/?token=x', true],
    ['https://web.push.apple.com/QGx', true],
    ['https://notify.windows.com.evil.example/x', false],
    ['https://user:pw@fcm.googleapis.com/x', false],
    ['http://push.example.org:8080/x', true],
    ['http://localhost:8443/x', true],
    ['http://localhost:8444/x', false],
    ['ftp://push.example.org/x', false],
    ['not a url', false],
  ])('%s → %s', async (endpoint, ok) => expect((await policy.check(endpoint)).ok).toBe(ok));
});

describe('a lookup that fails is no verdict on the endpoint', () => {
  it.each(['EAI_AGAIN', 'ENOTFOUND', 'ETIMEOUT'])('%s is transient, not a refusal', async (code) => {
    const failing = (async () => {
      throw Object.assign(new Error(`getaddrinfo ${code}`), { code });
    }) as never;
    expect(await pushEndpointPolicy([], failing).check('https://fcm.googleapis.com/fcm/send/x')).toEqual({ ok: false, reason: 'does not resolve', transient: true });
  });
});
