import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Primero's answers as its own code renders them (shapes and sources: test/fixtures/primero/README.md), for
 * nock fakes: `.reply((uri) => primeroAnswer('forbidden', uri))`. `resource` is the request path, as in Primero.
 */
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'primero');

const ANSWERS = {
  unauthorized: { status: 401, file: 'error-401-basic-auth.json', headers: { 'WWW-Authenticate': 'Basic realm="Primero"' } },
  forbidden: { status: 403, file: 'error-403-access-denied.json', headers: {} },
  conflict: { status: 409, file: 'error-409-conflict.json', headers: {} },
  invalidRecordJson: { status: 422, file: 'error-422-invalid-record-json.json', headers: {} },
  recordInvalid: { status: 422, file: 'error-422-record-invalid.json', headers: {} },
  configurationLock: { status: 503, file: 'error-503-configuration-lock.json', headers: { 'Retry-After': '60' } },
} as const;

export type PrimeroAnswer = keyof typeof ANSWERS;

export function primeroFixture(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Record<string, unknown>;
}

export function primeroAnswer(kind: PrimeroAnswer, uri?: string, headers: Record<string, string> = {}): [number, Record<string, unknown>, Record<string, string>] {
  const { status, file, headers: own } = ANSWERS[kind];
  const body = primeroFixture(file);
  const errors = body.errors as Array<Record<string, unknown>> | undefined;
  if (uri && errors) for (const e of errors) e.resource = uri.split('?')[0];
  return [status, body, { 'Content-Type': 'application/json', ...own, ...headers }];
}

/** A Primero webhook body (fixture), with the record id and update time of the test's record. */
export function primeroWebhookBody(kind: 'full' | 'partial', recordId: string, lastUpdatedAt: string, over: Record<string, unknown> = {}): { data: Record<string, unknown> } {
  const { data } = primeroFixture(`webhook-case-update-${kind}.json`) as { data: Record<string, unknown> };
  return { data: { ...data, record_id: recordId, id: recordId, last_updated_at: lastUpdatedAt, ...over } };
}
