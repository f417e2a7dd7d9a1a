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

/**
 * Starts the notification flow for the community member with params {reference, status} only. The queue's
 * limiter keeps to the workspace quota; a 429 pauses the whole queue (the quota is the workspace's).
 */
export function rapidProNotifyProcessor(deps: RapidProNotifyDeps) {
  return async (job: Job): Promise<string> => {
    const { urn, reference, status } = openJob(deps.codec, job) as unknown as FlowStartJob;
    if (await deps.contacts.isOptedOut(urn)) {
      await deps.trace.record(reference, 'flow_start_skipped', { status, reason: 'opted_out' });
      return 'skipped-opted-out';
    }
    try {
      await deps.client.startFlow(deps.flowUuid, [urn], { reference, status });
    } catch (err) {
      return rethrowForQueue(err, deps.queue, deps.logger, deps.configPauseMs);
    }
    await deps.trace.record(reference, 'flow_started', { status });
    deps.logger.info({ reference, status }, 'community notification flow started');
    return 'started';
  };
}
