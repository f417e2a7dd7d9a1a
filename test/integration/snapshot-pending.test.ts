import { randomUUID } from 'node:crypto';
import { deriveEvents, type RecordSnapshot } from '../../src/domain/record-events';
import { createRedis } from '../../src/queues/connection';
import { deleteByPrefix } from '../../src/store/keys';
import { SnapshotStore } from '../../src/store/snapshots';
import { TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

/**
 * A record's changes are notified once each, and never skipped: a look swapped in whose notifications never went out
 * (the worker died between the swap and the dispatch) is found by its retry, and a newer look swapped in first
 * derives its changes from the last look whose notifications did go out.
 */
describe('record looks whose notifications are still to go out', () => {
  const prefix = uniquePrefix('snap-pending');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const store = new SnapshotStore(redis, prefix, 1);
  const look = (recordId: string, at: string, status: string, workflow = 'new'): RecordSnapshot => ({
    recordId,
    recordType: 'case',
    lastUpdatedAt: at,
    ownedBy: 'sms_gateway',
    assignedUserNames: [],
    status,
    workflow,
    caseIdDisplay: 'cp-1',
    urgent: false,
  });

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('gives a retry of an unsettled look the look its changes come from; none once settled', async () => {
    const id = randomUUID();
    const open = look(id, '2026-11-26T10:00:00.000Z', 'open');
    await store.swapPending(open);
    await store.settle(id, open.lastUpdatedAt);
    const closed = look(id, '2026-11-26T11:00:00.000Z', 'closed', 'closed');
    expect((await store.swapPending(closed)).before).toEqual(expect.objectContaining({ status: 'open' }));
    // The worker died here. Its retry finds its own look stored, and what to diff it against.
    const stored = (await store.get(id))!;
    expect((await store.unfinished(stored))!.before).toEqual(expect.objectContaining({ status: 'open' }));
    await store.settle(id, closed.lastUpdatedAt);
    expect(await store.unfinished(stored)).toBeNull();
  });

  it('derives a newer look\'s changes from the last settled look, so the close an unfinished dispatch held is not skipped', async () => {
    const id = randomUUID();
    const open = look(id, '2026-11-26T10:00:00.000Z', 'open');
    await store.swapPending(open);
    await store.settle(id, open.lastUpdatedAt);
    await store.swapPending(look(id, '2026-11-26T11:00:00.000Z', 'closed', 'closed'));
    // Never settled; then another edit of the closed case comes in.
    const later = look(id, '2026-11-26T12:00:00.000Z', 'closed', 'closed');
    const { applied, before, unsettled } = await store.swapPending(later);
    expect(applied).toBe(true);
    expect(deriveEvents(before, later).map((e) => e.kind)).toContain('closed');
    // And the unsettled look itself: a reopen right after a close whose dispatch may have gone out is derived from it.
    expect(unsettled).toEqual(expect.objectContaining({ status: 'closed', lastUpdatedAt: '2026-11-26T11:00:00.000Z' }));
    // The older look's settle (its retry finishing late) leaves the newer look's entry in place.
    await store.settle(id, '2026-11-26T11:00:00.000Z');
    expect((await store.unfinished((await store.get(id))!))!.before).toEqual(expect.objectContaining({ status: 'open' }));
  });

  it('forgets an unsettled dispatch after its bound (half the notification dedupe window), so a late replay re-announces nothing', async () => {
    const brief = new SnapshotStore(redis, prefix, 1, 1);
    const id = randomUUID();
    await brief.swapPending(look(id, '2026-11-26T10:00:00.000Z', 'open'));
    const stored = (await brief.get(id))!;
    expect(await brief.unfinished(stored)).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await brief.unfinished(stored)).toBeNull();
    expect(await brief.get(id)).toEqual(stored);
  });

  it('marks a stored look as unable to confirm the safe-to-contact answer only while it is still the stored look, its TTL kept', async () => {
    const id = randomUUID();
    await store.swapPending(look(id, '2026-11-26T10:00:00.000Z', 'open'));
    const stored = (await store.get(id))!;
    await store.markConfirmation(stored, true);
    expect(await store.get(id)).toEqual(expect.objectContaining({ status: 'open', assignedUserNames: [], safeUnconfirmed: true }));
    expect(await redis.ttl(`${prefix}:gw:snapshot:${id}`)).toBeGreaterThan(86_000);
    // A newer look swapped in meanwhile is never marked by the older look's retry.
    await store.swapPending(look(id, '2026-11-26T11:00:00.000Z', 'closed', 'closed'));
    await store.markConfirmation(stored, true);
    expect((await store.get(id))!.safeUnconfirmed).toBeUndefined();
  });

  it('gives the first look of a record no earlier look to diff against, also on its retry', async () => {
    const id = randomUUID();
    const first = look(id, '2026-11-26T10:00:00.000Z', 'open');
    expect((await store.swapPending(first)).before).toBeNull();
    expect(await store.unfinished((await store.get(id))!)).toEqual({ before: null });
  });
});
