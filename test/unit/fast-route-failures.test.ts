import express from 'express';
import request from 'supertest';
import { errorAnswer } from '../../src/http/errors';
import { withFastRoutes, type FastRoute } from '../../src/http/fast-routes';
import { createLogger, type Logger } from '../../src/logger';

const quiet = createLogger('silent');
/** A log sink that fails: the error answer's own log line throws. */
const failingLogger = { error: () => { throw new Error('log sink is gone'); } } as unknown as Logger;

function appWith(route: FastRoute, logger: Logger = quiet) {
  return withFastRoutes(express(), new Map([['POST /fast', route]]), logger);
}

describe('a fast route that fails', () => {
  const unhandled = jest.fn();
  beforeAll(() => process.on('unhandledRejection', unhandled));
  afterAll(() => process.off('unhandledRejection', unhandled));
  afterEach(async () => {
    // A rejection nobody handles is reported after the microtasks of the answer have run.
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).not.toHaveBeenCalled();
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'boom'],
    ['a plain object', { status: 'teapot' }],
  ])('that throws %s is answered 500 internal_error, as the express error handler answers it', async (_label, thrown) => {
    const res = await request(appWith(async () => { throw thrown; })).post('/fast');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: { code: 'internal_error', message: expect.any(String), details: [] } });
  });

  it('still answers 500 when logging the failure throws, and the process lives on', async () => {
    const res = await request(appWith(async () => { throw undefined; }, failingLogger)).post('/fast');
    expect([res.status, res.body.error.code]).toEqual([500, 'internal_error']);
  });

  it('closes the connection when it throws after its headers went out', async () => {
    const route: FastRoute = async (_req, res) => {
      res.writeHead(202, { 'Content-Type': 'application/json' });
      res.write('{"status":');
      throw 'late';
    };
    await expect(request(appWith(route)).post('/fast').timeout(5000)).rejects.toThrow(/socket hang up|aborted|ECONNRESET/);
  });
});

describe('errorAnswer', () => {
  it.each([undefined, null, 0, 'text'])('answers %p with a 500 instead of throwing', (thrown) => {
    expect(errorAnswer(thrown, quiet, '/x').status).toBe(500);
  });
});
