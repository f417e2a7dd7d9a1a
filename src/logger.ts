import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Code logs references, ids and status codes only. Redaction is the second line of defence for a
 * field that slips through: these are the names personal data travels under in this codebase.
 */
const PERSONAL_KEYS = ['urn', 'urns', 'text', 'name', 'phone', 'telephone', 'results', 'narrative', 'body', 'data', 'contact', 'from', 'to'];
const SECRET_KEYS = ['authorization', 'password', 'token', 'x-api-key', 'cookie'];

const redactPaths = [...PERSONAL_KEYS, ...SECRET_KEYS].flatMap((k) => [`"${k}"`, `*["${k}"]`, `*.*["${k}"]`]);

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'primero-gateway' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      // Errors are logged by name and message only: an axios error carries the request body and headers.
      serializers: { err: (e: unknown) => (e instanceof Error ? { type: e.name, message: e.message } : { message: String(e) }) },
    },
    destination,
  );
}
