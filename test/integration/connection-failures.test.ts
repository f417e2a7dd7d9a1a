import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Whether a failed flow start may have reached RapidPro, told from what happened on the wire. Only a request written
 * to an established connection (TLS done) may have been acted on (`maybe_sent`: never repeated); a failure before
 * that sent nothing and is retried like any outage. Real loopback servers, each doing one thing wrong, driven from a
 * process of its own (test/support/connection-failure-hints.ts says why).
 */
describe('a failed send: did anything reach the provider?', () => {
  let seen: Record<string, unknown>;

  beforeAll(async () => {
    const script = path.join(__dirname, '..', 'support', 'connection-failure-hints.ts');
    const { stdout } = await promisify(execFile)(process.execPath, ['--require', 'tsx/cjs', script], { timeout: 25_000 });
    seen = JSON.parse(stdout) as Record<string, unknown>;
  });

  it('retries when the TLS handshake is reset (only the ClientHello left, no request)', () => {
    expect(seen.handshakeReset).toMatchObject({ hint: null });
  });

  it('retries when https meets a plain-HTTP endpoint (EPROTO: a proxy or load balancer misconfigured)', () => {
    expect(seen.httpsToPlainHttp).toMatchObject({ hint: null, message: expect.stringContaining('EPROTO') });
  });

  it('retries when the TLS handshake never completes (the request was never written)', () => {
    expect(seen.handshakeNeverCompletes).toMatchObject({ hint: null });
  });

  it('gives up on a connection not made within its own short timeout, long before the request timeout', () => {
    expect(seen.connectTimeout).toEqual({ hint: null, message: 'RapidPro did not answer the flow start (ECONNECT_TIMEOUT)' });
  });

  it('does not count a slow name lookup against the connect timeout (slow DNS is slow, not unreachable)', () => {
    expect(seen.slowLookupLiveServer).toBe('answered');
  });

  it('still gives up on a connection not made in time once the name is resolved', () => {
    expect(seen.slowLookupThenSilent).toEqual({ hint: null, message: 'RapidPro did not answer the flow start (ECONNECT_TIMEOUT)' });
  });

  it('never repeats a request the server read on a kept-alive connection and then reset (it may have acted on it)', () => {
    expect([seen.keptAliveAnswered, seen.keptAliveDropped]).toEqual(['answered', expect.objectContaining({ hint: 'maybe_sent' })]);
  });

  it('closes a kept-alive connection left idle past its idle timeout, so the next send opens a fresh one', () => {
    expect([seen.connectionsWithinIdle, seen.connectionsPastIdle]).toEqual([1, 2]);
  });

  it('behind HTTPS_PROXY (a tunnel the gateway cannot see into) takes a reset as maybe sent, even one before the request', () => {
    // The "proxy" here is the handshake-resetting server: it resets on the CONNECT line.
    expect(seen.proxyTunnelReset).toMatchObject({ hint: 'maybe_sent' });
  });

  it('never repeats a request written to a fresh connection whose answer never came (RapidPro may have acted on it)', () => {
    expect(seen.writtenNeverAnswered).toMatchObject({ hint: 'maybe_sent' });
  });

  it('never repeats a request written to a fresh connection that was then reset', () => {
    expect(seen.writtenThenReset).toMatchObject({ hint: 'maybe_sent' });
  });
});
