/** An open-loop load at a fixed rate: when each message was acknowledged, by the reference its 202 named. */
import http from 'node:http';
import { referralBody } from './ingest';
import { TOKEN } from './settings';

function post(agent: http.Agent, port: number): Promise<{ status: number; reference: string | null; at: number }> {
  const body = referralBody();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/webhooks/rapidpro/referral', method: 'POST', agent, headers: { Authorization: `Token ${TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const at = Date.now();
          let reference: string | null = null;
          try {
            reference = (JSON.parse(Buffer.concat(chunks).toString()) as { reference?: string }).reference ?? null;
          } catch {
            // not JSON: counted as not acknowledged
          }
          resolve({ status: res.statusCode ?? 0, reference, at });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * `total` messages at `perSecond`, sent on schedule whether or not earlier ones were answered (a closed loop
 * would slow down with the gateway and hide its latency). Returns reference → acknowledgement time.
 */
export async function pacedLoad(port: number, total: number, perSecond: number): Promise<{ acked: Map<string, number>; refused: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const acked = new Map<string, number>();
  let refused = 0;
  const t0 = Date.now();
  const sent: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / perSecond;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    sent.push(
      post(agent, port).then((r) => {
        if (r.status === 202 && r.reference) acked.set(r.reference, r.at);
        else refused++;
      }),
    );
  }
  await Promise.all(sent);
  agent.destroy();
  return { acked, refused };
}
