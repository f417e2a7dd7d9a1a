/**
 * Run as its own process by test/integration/connection-failures.test.ts: a jest worker that ran a nock test keeps
 * nock's interceptor on Node's http, which puts its own socket before ours and never reuses a connection. Sends a
 * RapidPro flow start to loopback servers that each do one thing wrong, and prints each failure's hint as JSON.
 */
import http from 'node:http';
import net from 'node:net';
import { DeliveryError } from '../../src/clients/delivery-error';
import { observedRequest, outboundHttp } from '../../src/clients/http-client';
import { trackingAgents } from '../../src/clients/outbound-connections';
import { RapidProClient } from '../../src/clients/rapidpro';

const listen = (server: net.Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
const startFlow = (client: RapidProClient) => client.startFlow('f', ['tel:+250788000111'], { reference: 'K7M2P9QA' }, { excludeActive: false });
const rapidpro = (baseUrl: string, timeoutMs = 1000) => new RapidProClient({ baseUrl, token: 'rapidpro-token', timeoutMs });
const outcome = (call: Promise<unknown>) =>
  call.then(
    () => 'answered',
    (e: unknown) => (e instanceof DeliveryError ? { hint: e.hint?.is ?? null, message: e.message } : `not a DeliveryError: ${String(e)}`),
  );

/** Answers the first request on a connection and keeps it; the second is read whole, then the connection is reset. */
const droppingKeptAlive = () =>
  net.createServer((socket) => {
    let requests = 0;
    socket.on('data', () => {
      requests++;
      if (requests === 1) socket.write('HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}');
      else socket.resetAndDestroy();
    });
  });

/** A resolver that answers loopback after `ms`: a first nameserver down, or a busy thread pool. */
const slowLookup = (ms: number) => (_host: string, opts: unknown, cb?: (...a: unknown[]) => void) =>
  setTimeout(() => (typeof opts === 'function' ? (opts as (...a: unknown[]) => void) : cb!)(null, [{ address: '127.0.0.1', family: 4 }]), ms);
const post = (baseURL: string, lookupMs: number) =>
  observedRequest(outboundHttp({ baseURL, timeoutMs: 5000, connectTimeoutMs: 200 }), { method: 'post', url: '/', data: {}, lookup: slowLookup(lookupMs) as never }, { service: 'RapidPro', what: 'the flow start' });

/** A flow start through HTTPS_PROXY (axios's own tunnelling agent, not ours): what its failure is told as. */
async function throughProxy(proxyPort: number): Promise<unknown> {
  process.env.HTTPS_PROXY = `http://127.0.0.1:${proxyPort}`; // read by axios at each request
  try {
    return await outcome(startFlow(rapidpro('https://rapidpro.example')));
  } finally {
    delete process.env.HTTPS_PROXY;
  }
}

/** How many connections two requests `gapMs` apart take, to a server that keeps every connection open forever. */
async function connectionsFor(gapMs: number): Promise<number> {
  let connections = 0;
  const server = http.createServer((_req, res) => res.end('{}'));
  server.keepAliveTimeout = 60_000;
  server.on('connection', () => connections++);
  const port = await listen(server);
  const { httpAgent } = trackingAgents(1000, 200);
  const get = () => new Promise<void>((resolve, reject) => http.get({ port, host: '127.0.0.1', agent: httpAgent }, (res) => res.resume().on('end', resolve)).on('error', reject));
  await get();
  await new Promise((resolve) => setTimeout(resolve, gapMs));
  await get();
  httpAgent.destroy();
  server.close();
  return connections;
}

async function main(): Promise<void> {
  const handshakeReset = await listen(net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy())));
  const plainHttp = await listen(http.createServer((_req, res) => res.end('{}')));
  const silent = await listen(net.createServer(() => undefined));
  const keptAlive = rapidpro(`http://127.0.0.1:${await listen(droppingKeptAlive())}`);
  const neverAnswers = await listen(http.createServer(() => undefined));
  const resetAfterRequest = await listen(net.createServer((socket) => socket.once('data', () => setTimeout(() => socket.resetAndDestroy(), 20))));
  const connectTimeout = outboundHttp({ baseURL: `https://127.0.0.1:${silent}`, timeoutMs: 30_000, connectTimeoutMs: 200 });
  const out = {
    handshakeReset: await outcome(startFlow(rapidpro(`https://127.0.0.1:${handshakeReset}`))),
    httpsToPlainHttp: await outcome(startFlow(rapidpro(`https://127.0.0.1:${plainHttp}`))),
    handshakeNeverCompletes: await outcome(startFlow(rapidpro(`https://127.0.0.1:${silent}`))),
    connectTimeout: await outcome(observedRequest(connectTimeout, { method: 'post', url: '/', data: {} }, { service: 'RapidPro', what: 'the flow start' })),
    keptAliveAnswered: await outcome(startFlow(keptAlive)),
    keptAliveDropped: await outcome(startFlow(keptAlive)),
    writtenNeverAnswered: await outcome(startFlow(rapidpro(`http://127.0.0.1:${neverAnswers}`, 300))),
    writtenThenReset: await outcome(startFlow(rapidpro(`http://127.0.0.1:${resetAfterRequest}`))),
    slowLookupLiveServer: await outcome(post(`http://rapidpro.example:${plainHttp}`, 600)),
    slowLookupThenSilent: await outcome(post(`https://rapidpro.example:${silent}`, 300)),
    proxyTunnelReset: await throughProxy(handshakeReset),
    connectionsWithinIdle: await connectionsFor(50),
    connectionsPastIdle: await connectionsFor(500),
  };
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

void main();
