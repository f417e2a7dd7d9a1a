import type { ClientRequest } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';

/** Set on each socket our agents open, then `true` once it can carry a request: TCP connected, and TLS done. */
const ESTABLISHED = Symbol('established');
type Tracked = Duplex & { [ESTABLISHED]?: boolean };

/** Set on the agents made here: a request through any other agent (a proxy's tunnel) is not tracked. */
const OURS = Symbol('tracking agent');

/** The code of a connection that took longer than the connect timeout: nothing of the request was written. */
const CONNECT_TIMEOUT = 'ECONNECT_TIMEOUT';

/**
 * Marks a new socket established when it can carry a request ('connect', or 'secureConnect' for TLS), and gives up
 * on one that is not within `connectTimeoutMs`: an unreachable destination fails fast, and says that nothing was
 * sent (axios's timeout covers the whole request and cannot tell a slow connect from a slow answer). The clock
 * starts once the name is resolved ('lookup', or at once for an IP): a slow resolver or a busy thread pool is slow,
 * not unreachable, and only the whole request's timeout bounds it.
 */
function track(socket: Tracked, host: string | undefined, secure: boolean, connectTimeoutMs: number): Tracked {
  socket[ESTABLISHED] = false;
  let timer: NodeJS.Timeout | undefined;
  const start = () => {
    if (timer || socket.destroyed) return;
    timer = setTimeout(() => socket.destroy(Object.assign(new Error('connect timeout'), { code: CONNECT_TIMEOUT })), connectTimeoutMs);
    timer.unref();
  };
  if (host && isIP(host)) start();
  else socket.once('lookup', start);
  socket.once(secure ? 'secureConnect' : 'connect', () => {
    clearTimeout(timer);
    socket[ESTABLISHED] = true;
  });
  socket.once('close', () => clearTimeout(timer));
  return socket;
}

type CreateConnection = (this: http.Agent, options: unknown, callback: unknown) => Duplex;

/**
 * How long a kept-alive connection may wait idle before we close it. Shorter than the idle timeouts providers' front
 * ends use (typically 5 s or more; nginx 75 s), so we rarely send on a connection the server is closing at that very
 * moment: such a request may have been read and acted on, so its failure counts as maybe sent. A server's own
 * shorter `Keep-Alive: timeout=` hint is honoured by Node's agent.
 */
const FREE_SOCKET_IDLE_MS = 4000;

/** Keep-alive agents whose sockets say whether they were ever established (see `requestMayHaveLeft`). */
export function trackingAgents(connectTimeoutMs: number, idleMs = FREE_SOCKET_IDLE_MS): { httpAgent: http.Agent; httpsAgent: https.Agent } {
  const wrap = <A extends http.Agent>(agent: A, secure: boolean): A => {
    const target = agent as unknown as { createConnection: CreateConnection };
    const create = target.createConnection;
    target.createConnection = function (options, callback) {
      return track(create.call(this, options, callback), (options as { host?: string }).host, secure, connectTimeoutMs);
    };
    Object.assign(agent, { [OURS]: true });
    return agent;
  };
  // `timeout` is the idle timeout of a free socket: Node's agent destroys a pooled socket that times out.
  const options = { keepAlive: true, timeout: idleMs };
  return { httpAgent: wrap(new http.Agent(options), false), httpsAgent: wrap(new https.Agent(options), true) };
}

/**
 * Whether a request that failed without an answer may have reached the destination: whenever it went out on an
 * established connection (TLS done), a kept-alive one included: a reset or "socket hang up" there may come after
 * the server read the request and acted on it (Node: retrying on `reusedSocket` is safe only for idempotent
 * requests, and these send messages). Not so before that (refused, unreachable, a handshake reset or refused, a
 * certificate error, https to a plain-HTTP port, a connect timeout). A request on a socket that is not ours (an
 * interceptor in between), or through an agent that is not ours (HTTPS_PROXY/HTTP_PROXY: axios tunnels through
 * its own agent, where neither the mark nor the connect timeout apply), may have left: when unknown, maybe sent.
 */
export function requestMayHaveLeft(err: unknown): boolean {
  const req = (err as { request?: ClientRequest & { res?: unknown } }).request;
  if (!req || typeof req !== 'object' || !('reusedSocket' in req)) return true;
  if (!(req as { agent?: { [OURS]?: boolean } }).agent?.[OURS]) return true;
  const socket = req.socket as Tracked | null;
  if (!socket) return false;
  return socket[ESTABLISHED] !== false;
}
