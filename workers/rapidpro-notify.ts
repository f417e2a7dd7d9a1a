import { RateLimitError, type Job, type Queue } from 'bullmq';
import { backgroundFlowCheck } from '../src/clients/background-flow';
import { readOnly } from '../src/clients/delivery-error';
import type { RapidProClient } from '../src/clients/rapidpro';
import type { Logger } from '../src/logger';
import type { JobData } from '../src/queues/jobs';
import type { PayloadCodec } from '../src/security/payload-codec';
import { openJob } from '../src/queues/open-job';
import type { ContactStore } from '../src/store/contacts';
import type { ReferenceStore } from '../src/store/references';
import type { SnapshotStore } from '../src/store/snapshots';
import type { TraceStore } from '../src/store/trace';
import type { SharedCounters } from '../src/store/counters';
import { pauseQueue, rethrowForQueue } from '../src/queues/failure-policy';
import { providerCall } from '../src/replies/person-sender';
import { sendOnce, type SendOnceDeps, type SendOnceResult } from '../src/replies/send-once';
import { skippedStart, tracedReason } from '../src/notifications/unverified-starts';
import { holdingReason } from '../src/replies/holding-reason';

export interface RapidProNotifyDeps extends SendOnceDeps {
  client: RapidProClient;
  flowUuid: string;
  codec: PayloadCodec;
  contacts: ContactStore;
  /** The reference's link, read when the message is sent: what was said about the phone since it was planned counts. */
  references: Pick<ReferenceStore, 'get'>;
  /** The record's last look, read when the message is sent: one that could not confirm the safe-to-contact answer holds it. */
  snapshots: Pick<SnapshotStore, 'get'>;
  trace: TraceStore;
  logger: Logger;
  queue: Queue;
  authFailurePauseMs: number;
  counters: SharedCounters;
}

/**
 * A status message planned earlier (a retry after a RapidPro outage, a replay days later) is held back when, since, the
 * person was said not safe to contact, the record became protected as sensitive, or the record's last look could not
 * confirm the safe-to-contact answer; a link gone (forgotten, or past its retention) names no record to tell of. Read
 * when it is sent, not only when it was planned.
 */
async function heldBack(deps: RapidProNotifyDeps, reference: string, status: string): Promise<string | null> {
  const link = await deps.references.get(reference);
  const why = !link ? 'unlinked' : await holdingReason(link, deps.snapshots, { chosenForSensitive: false, unconfirmedCounts: true });
  if (!why) return null;
  await skippedStart(deps.trace, deps.counters, reference, status, why);
  // The job's return value lands in BullMQ's events stream under the job, which holds the reference.
  return `skipped-${tracedReason(why)}`;
}

/**
 * Starts the notification flow for the community member with params {reference, status} only. The queue's
 * limiter keeps to the workspace quota; a 429 pauses the whole queue (the quota is the workspace's).
 */
export function rapidProNotifyProcessor(deps: RapidProNotifyDeps) {
  /*
   * mailroom starts a non-background flow in interrupt mode, ending the referral or feedback run the person is
   * answering (nyaruka/mailroom: core/tasks/start_flow_batch.go); a background flow never interrupts. The
   * start API's only other switch, exclude_active, drops the start for anyone in a flow, so a status message
   * would vanish while the trace said "started". Anything but a background flow (or no flow at all) is a
   * configuration fault: every job would go wrong alike, so the queue pauses until it is fixed, and jobs wait.
   * Only a background answer is cached, so a re-imported flow is picked up at the next try.
   */
  // A lookup is a read: its timeout is retried like any failed call, never settled as a start that may have happened.
  const isBackground = backgroundFlowCheck(() => readOnly(() => deps.client.flowType(deps.flowUuid)));
  const configurationFault = async (type: string | null): Promise<never> => {
    const reason = type === null ? 'flow_not_found' : 'flow_not_background';
    deps.counters.increment('gateway_configuration_faults_total', { queue: deps.queue.name, reason });
    const overviewReason = type === null ? 'RAPIDPRO_NOTIFY_FLOW_UUID names no flow in the RapidPro workspace' : 'The RapidPro notify flow is not a background flow';
    // Said once the pause is in place, and (as not paused) even when pausing failed.
    let paused = false;
    try {
      await pauseQueue(deps.queue, deps.authFailurePauseMs, { reason: overviewReason, cause: 'configuration' }, deps.logger);
      paused = true;
    } finally {
      const state = paused ? 'queue paused' : 'the queue could not be paused';
      deps.logger.error(
        { queue: deps.queue.name, service: 'RapidPro', reason, flowType: type, pauseMs: deps.authFailurePauseMs },
        type === null
          ? 'RAPIDPRO CONFIGURATION FAULT: RAPIDPRO_NOTIFY_FLOW_UUID names no flow in this workspace; import flows/notify.flow.json; ' + state
          : "RAPIDPRO CONFIGURATION FAULT: RAPIDPRO_NOTIFY_FLOW_UUID is not a background flow (starting it would interrupt the person's other flows); import flows/notify.flow.json; " + state,
      );
    }
    throw new RateLimitError();
  };
  return async (job: Job<JobData<'rapidpro-notify'>>): Promise<string> => {
    const { urn, reference, status } = openJob(deps.codec, job);
    if (await deps.contacts.isOptedOut(urn)) {
      await deps.trace.record(reference, 'flow_start_skipped', { status, reason: 'opted_out' });
      return 'skipped-opted-out';
    }
    const held = await heldBack(deps, reference, status);
    if (held) return held;
    let flow: Awaited<ReturnType<typeof isBackground>>;
    let started: SendOnceResult | null = null;
    try {
      // A failed lookup (5xx, 429, a bad token's 403) is handled like a failed start.
      flow = await isBackground();
      // At most once (sendOnce): a start whose answer was lost (a timeout, a proxy's 502/504), or begun by a worker that
      // died, is never repeated.
      if (flow.ok) started = await sendOnce(deps, job, reference, () => providerCall('RapidPro', () => deps.client.startFlow(deps.flowUuid, [urn], { reference, status }, { excludeActive: false })));
    } catch (err) {
      return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
    }
    if (!flow.ok) return configurationFault(flow.type);
    if (started === 'already-sent') return started;
    await deps.trace.record(reference, 'flow_started', { status });
    deps.logger.info({ reference, status }, 'community notification flow started');
    return 'started';
  };
}
