import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Request, Response } from 'express';
import type { HttpError } from '../../src/http/errors';
import { LargeBodyBudget, readRawBody, WEBHOOK_BODY_LIMIT } from '../../src/http/json-body';

const MiB = 1024 * 1024;
const tick = () => new Promise((r) => setImmediate(r));

/** A request whose body arrives as written, and what the reader made of it ('read', or the error it answered). */
function upload(handler: ReturnType<typeof readRawBody>, bytes: number, end: boolean) {
  const req = Object.assign(new PassThrough(), { headers: {} }) as unknown as Request & PassThrough;
  const res = new EventEmitter() as unknown as Response;
  let outcome: 'read' | HttpError | null = null;
  handler(req, res, (err?: unknown) => {
    outcome = (err as HttpError | undefined) ?? 'read';
  });
  req.write(Buffer.alloc(bytes));
  if (end) req.end();
  return { res, outcome: async () => (await tick(), await tick(), outcome) };
}

describe('bodies past the ordinary limit share one budget', () => {
  it('refuses a large body with 503 while stalled large uploads hold the budget, never a small one, and takes it again once they end', async () => {
    const read = readRawBody(3 * MiB, new LargeBodyBudget(1 * MiB));
    const stalled = upload(read, WEBHOOK_BODY_LIMIT + 900 * 1024, false);
    expect(await stalled.outcome()).toBeNull();
    const refused = (await upload(read, WEBHOOK_BODY_LIMIT + 200 * 1024, true).outcome()) as HttpError;
    expect([refused.status, refused.headers['Retry-After']]).toEqual([503, '5']);
    expect(await upload(read, 100 * 1024, true).outcome()).toBe('read');
    // The stalled client goes away: its share comes back.
    (stalled.res as unknown as EventEmitter).emit('close');
    expect(await upload(read, WEBHOOK_BODY_LIMIT + 200 * 1024, true).outcome()).toBe('read');
  });
});
