import { classifyStatus, DeliveryError, type CallTarget, type FailureKind } from '../../src/clients/delivery-error';

/** Each status a destination may answer, and what the gateway makes of it: one row per case. */
describe('classifyStatus: a destination status → how the job is handled', () => {
  const rows: Array<[status: number, target: CallTarget, kind: FailureKind, retryAfterMs: number | null]> = [
    [400, 'service', 'permanent', null],
    [401, 'service', 'configuration', null],
    [401, 'record', 'configuration', null],
    [403, 'service', 'configuration', null],
    [403, 'record', 'permanent', null],
    [404, 'record', 'permanent', null],
    [409, 'service', 'permanent', null],
    [413, 'service', 'permanent', null],
    [422, 'service', 'permanent', null],
    [429, 'service', 'transient', 30_000],
    [429, 'record', 'transient', null],
    [500, 'service', 'transient', null],
    [502, 'record', 'transient', null],
    [503, 'service', 'transient', 60_000],
    [504, 'service', 'transient', null],
  ];

  it.each(rows)('%i on a %s call is %s (retry after %p)', (status, target, kind, retryAfterMs) => {
    const err = classifyStatus('primero', status, 'a create', retryAfterMs ?? 5_000, '', target);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.kind).toBe(kind);
    expect(err.status).toBe(status);
    expect(err.service).toBe('primero');
    // Only a transient failure carries the destination's Retry-After; the others never wait for it.
    expect(err.retryAfterMs).toBe(kind === 'transient' ? (retryAfterMs ?? 5_000) : null);
  });

  it('names the system, the status and the call, and a rejection adds its detail', () => {
    expect(classifyStatus('rapidpro', 400, 'a flow start', null, 'flow: not found').message).toBe('rapidpro rejected a flow start (400): flow: not found');
    expect(classifyStatus('primero', 403, 'a read', null, '', 'record').message).toBe("primero refused access to the record on a read (403): it is outside the API user's scope");
    expect(classifyStatus('primero', 401, 'a create', null).message).toBe('primero refused our credentials or role (401) on a create');
    expect(classifyStatus('push', 503, 'a delivery', 1000).message).toBe('push answered 503 on a delivery');
  });
});
