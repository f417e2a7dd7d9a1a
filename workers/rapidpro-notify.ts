import type { Job, Queue } from 'bullmq';
import type { RapidProClient } from '../src/clients/rapidpro';
import type { Logger } from '../src/logger';
import type { FlowStartJob } from '../src/queues/rapidpro-notify';
import type { PayloadCodec } from '../src/security/payload-codec';
import { openJob } from './open-job';
import type { ContactStore } from '../src/store/contacts';
import type { TraceStore } from '../src/store/trace';
import { rethrowForQueue } from './delivery-failure';

export interface RapidProNotifyDeps {
  client: RapidProClient;
  flowUuid: string;
  codec: PayloadCodec;
  contacts: ContactStore;
  trace: TraceStore;
  logger: Logger;
  queue: Queue;
  configPauseMs: number;
}

/** How long the notify flow's type is trusted before it is read again (an operator may re-import it). */
const FLOW_TYPE_TTL_MS = 3_600_000;

/**
 * Starts the notification flow for the community member with params {reference, status} only. The queue's
 * limiter keeps to the workspace quota; a 429 pauses the whole queue (the quota is the workspace's).
 */
export function rapidProNotifyProcessor(deps: RapidProNotifyDeps) {
  let known: { excludeActive: boolean; at: number } | null = null;
  /*
   * mailroom starts a non-background flow in interrupt mode, ending the referral or feedback run the person is
   * answering (nyaruka/mailroom: core/tasks/start_flow_batch.go); a background flow never interrupts. The API
   * has no "don't interrupt" switch, only exclude_active, which drops the start for anyone in a flow. So: a
   * background notify flow goes to everyone; any other type is started with exclude_active, and a skipped
   * status message is the price of not cutting a child's answers off.
   */
  const excludeActive = async (): Promise<boolean> => {
    if (known && Date.now() - known.at < FLOW_TYPE_TTL_MS) return known.excludeActive;
    const type = await deps.client.flowType(deps.flowUuid);
    known = { excludeActive: type !== 'background', at: Date.now() };
    if (known.excludeActive) {
      deps.logger.warn({ flowType: type }, 'RAPIDPRO_NOTIFY_FLOW_UUID is not a background flow: people in another flow are skipped, not interrupted; import flows/notify.flow.json');
    }
    return known.excludeActive;
  };
  return async (job: Job): Promise<string> => {
    const { urn, reference, status } = openJob(deps.codec, job) as unknown as FlowStartJob;
    if (await deps.contacts.isOptedOut(urn)) {
      await deps.trace.record(reference, 'flow_start_skipped', { status, reason: 'opted_out' });
      return 'skipped-opted-out';
    }
    try {
      await deps.client.startFlow(deps.flowUuid, [urn], { reference, status }, { excludeActive: await excludeActive() });
    } catch (err) {
      return rethrowForQueue(err, deps.queue, deps.logger, deps.configPauseMs);
    }
    await deps.trace.record(reference, 'flow_started', { status });
    deps.logger.info({ reference, status }, 'community notification flow started');
    return 'started';
  };
}
