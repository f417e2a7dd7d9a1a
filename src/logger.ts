import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Code logs references, ids and status codes only. Redaction is the second line of defence for a
 * field that slips through: these are the names personal data travels under in this codebase.
 */
const PERSONAL_KEYS = ['urn', 'urns', 'text', 'name', 'phone', 'telephone', 'results', 'narrative', 'body', 'data', 'contact', 'from', 'to'];
const SECRET_KEYS = ['authorization', 'password', 'token', 'x-api-key', 'cookie'];

const BLOCKED = new Set([...PERSONAL_KEYS, ...SECRET_KEYS]);

/**
 * Replaces the value of any blocked key, at any depth up to four. A plain walk: pino's wildcard redact paths
 * re-parsed their paths on every line and were the largest single cost on the ingest path.
 */
export function scrub(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 4 || value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = BLOCKED.has(k.toLowerCase()) ? '[redacted]' : scrub(v, depth + 1);
  return out;
}

/**
 * Standard output, written in batches (up to 8 KiB, or every 250 ms) instead of one blocking write per line:
 * on the ingest path a synchronous write per accepted message cost a quarter of the throughput. What is
 * buffered is written out when the process exits.
 */
function batchedStdout(): DestinationStream {
  const dest = pino.destination({ dest: 1, sync: false, minLength: 8192, periodicFlush: 250 });
  process.on('exit', () => {
    try {
      dest.flushSync();
    } catch {
      // nothing more can be done at exit
    }
  });
  return dest;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'primero-gateway' },
      formatters: { log: (obj) => scrub(obj) as Record<string, unknown> },
      // Errors are logged by name and message only: an axios error carries the request body and headers.
      serializers: { err: (e: unknown) => (e instanceof Error ? { type: e.name, message: e.message } : { message: String(e) }) },
    },
    destination ?? batchedStdout(),
  );
}
