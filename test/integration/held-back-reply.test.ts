import { createLogger } from '../../src/logger';
import { createRedis } from '../../src/queues/connection';
import { heldBackReply, type ReplyGateDeps } from '../../src/replies/held-back-reply';
import { PayloadCodec } from '../../src/security/payload-codec';
import { SharedCounters } from '../../src/store/counters';
import { deleteByPrefix } from '../../src/store/keys';
import { ReferenceStore, type CaseLink } from '../../src/store/references';
import { SnapshotStore } from '../../src/store/snapshots';
import { TraceStore } from '../../src/store/trace';
import { LogCapture, TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

const QUEUE = 'africastalking-replies';

/**
 * What an acknowledgement queued earlier meets when it is sent: the link and the record's last look as they are then.
 * The workers' own tests (africastalking-replies, whatsapp) show the held reply never reaching the provider.
 */
describe('an acknowledgement queued earlier: held back by what was said about its record since', () => {
  const prefix = uniquePrefix('held-reply');
  const redis = createRedis(TEST_REDIS_URL, 'worker');
  const references = new ReferenceStore(redis, prefix, 1, new PayloadCodec(null));
  const snapshots = new SnapshotStore(redis, prefix, 1);
  const trace = new TraceStore(redis, prefix, 1);
  const counters = new SharedCounters(redis, prefix);
  const deps: ReplyGateDeps = { references, snapshots, trace, counters, logger: createLogger('info', new LogCapture()) };
  let records = 0;

  const linked = async (over: Partial<CaseLink> = {}): Promise<CaseLink> => {
    const n = ++records;
    const link: CaseLink = {
      reference: `HLDREF${n}`, recordType: 'case', caseId: `record-${n}`, caseIdDisplay: null, urn: 'tel:+254711800001', channel: 'africastalking',
      intent: 'referral', sensitive: false, createdAt: new Date().toISOString(), safeToContact: null, steps: {}, ...over,
    };
    expect(await references.saveLink(link)).toBeNull();
    return link;
  };
  const skipped = async (reason: string) => (await counters.all()).find((c) => c.name === 'gateway_replies_skipped_total' && c.labels.queue === QUEUE && c.labels.reason === reason)?.value ?? 0;
  const traced = async (reference: string) => (await trace.timeline(reference)).map((e) => ({ event: e.event, ...e.detail }));

  afterAll(async () => {
    await deleteByPrefix(redis, prefix);
    await redis.quit();
  });

  it('sends a new report\'s acknowledgement whose link is not made yet, and a reply naming no record', async () => {
    expect(await heldBackReply(deps, QUEUE, { reference: 'NOLINK22', sensitive: false, queuedAt: Date.now() })).toBeNull();
    expect(await heldBackReply(deps, QUEUE, { reference: null, sensitive: false, queuedAt: Date.now() })).toBeNull();
    expect(await traced('NOLINK22')).toEqual([]);
  });

  it('holds it once the link says not safe, traced as held_back and counted with its reason', async () => {
    const link = await linked();
    expect(await heldBackReply(deps, QUEUE, { reference: link.reference, sensitive: false, queuedAt: Date.now() + 1 })).toBeNull();
    await references.lowerSafeToContact(link.reference);
    const before = await skipped('not_safe');
    expect(await heldBackReply(deps, QUEUE, { reference: link.reference, sensitive: false, queuedAt: Date.now() + 1 })).toBe('skipped-held_back');
    expect(await traced(link.reference)).toEqual([{ event: 'reply_skipped', queue: QUEUE, reason: 'held_back' }]);
    expect(await skipped('not_safe')).toBe(before + 1);
  });

  it('holds it when the record is sensitive and the reply was not chosen for a sensitive report; sends the one that was', async () => {
    const link = await linked({ sensitive: true });
    expect(await heldBackReply(deps, QUEUE, { reference: link.reference, sensitive: false, queuedAt: Date.now() + 1 })).toBe('skipped-held_back');
    expect(await heldBackReply(deps, QUEUE, { reference: link.reference, sensitive: true, queuedAt: Date.now() + 1 })).toBeNull();
    // Queued by an earlier build, which chose the words knowing what it knew: sent as it would have been.
    expect(await heldBackReply(deps, QUEUE, { reference: link.reference, queuedAt: Date.now() + 1 })).toBeNull();
    expect(await traced(link.reference)).toEqual([{ event: 'reply_skipped', queue: QUEUE, reason: 'held_back' }]);
  });

  it('holds it while the record\'s last look could not confirm the safe-to-contact answer', async () => {
    const link = await linked();
    const look = { recordId: link.caseId, recordType: 'case' as const, lastUpdatedAt: '2026-12-01T10:00:00.000Z', ownedBy: 'gateway', assignedUserNames: [], status: 'open', workflow: 'new', caseIdDisplay: null, urgent: false };
    await snapshots.swap(look);
    expect(await heldBackReply(deps, QUEUE, { reference: link.reference, sensitive: false, queuedAt: Date.now() + 1 })).toBeNull();
    await snapshots.markConfirmation(look, true);
    expect(await heldBackReply(deps, QUEUE, { reference: link.reference, sensitive: false, queuedAt: Date.now() + 1 })).toBe('skipped-held_back');
    expect(await traced(link.reference)).toEqual([{ event: 'reply_skipped', queue: QUEUE, reason: 'held_back' }]);
    // A link with no readable creation time (an earlier build's) counts as older than the reply: held.
    const unknownAge = await linked({ createdAt: '' });
    await snapshots.swap({ ...look, recordId: unknownAge.caseId });
    await snapshots.markConfirmation({ ...look, recordId: unknownAge.caseId }, true);
    expect(await heldBackReply(deps, QUEUE, { reference: unknownAge.reference, sensitive: false, queuedAt: Date.now() })).toBe('skipped-held_back');
    // A new report's own acknowledgement, queued before its record was made, still goes: nothing was said against it.
    expect(await heldBackReply(deps, QUEUE, { reference: link.reference, sensitive: false, queuedAt: Date.parse(link.createdAt) - 1000 })).toBeNull();
  });
});
