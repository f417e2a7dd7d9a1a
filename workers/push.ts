import { DelayedError, UnrecoverableError, type Job, type Queue } from 'bullmq';
import { DeliveryError } from '../src/clients/delivery-error';
import type { WebPushClient } from '../src/clients/webpush';
import { pushPayload, pushTopic, type PushTexts } from '../src/domain/push-texts';
import type { Logger } from '../src/logger';
import type { PushJob } from '../src/queues/push';
import type { PushSubscriptionStore } from '../src/store/push-subscriptions';
import type { TraceStore } from '../src/store/trace';
import { rethrowForQueue } from '../src/queues/failure-policy';

export interface PushDeps {
  client: WebPushClient;
  subscriptions: PushSubscriptionStore;
  texts: PushTexts;
  primeroUrl: string;
  ttlSeconds: number;
  trace: TraceStore;
  logger: Logger;
  queue: Queue;
  configPauseMs: number;
}

/**
 * Sends one notice to one device and acts on the push service's answer: 2xx done; 404/410 the device is
 * gone (removed, if it is still the same subscription); 429 this job waits Retry-After without spending an
 * attempt; 413/400 permanent; 401/403 our VAPID setup is wrong; 5xx and no answer are retried.
 */
export function pushProcessor(deps: PushDeps) {
  return async (job: Job, token?: string): Promise<string> => {
    const { user, endpointHash, notice, reference } = job.data as PushJob;
    const stored = await deps.subscriptions.get(user, endpointHash);
    if (!stored) return 'skipped-unsubscribed';
    let payload: string;
    try {
      payload = pushPayload(notice, stored.language, deps.texts, deps.primeroUrl);
    } catch (err) {
      throw new UnrecoverableError((err as Error).message);
    }
    const result = await deps.client.send(stored.subscription, payload, {
      ttlSeconds: deps.ttlSeconds,
      urgency: notice.urgent ? 'high' : 'normal',
      topic: pushTopic(notice.recordId),
    });
    const s = result.status;
    const record = (event: string) => (reference ? deps.trace.record(reference, event, { event: notice.event, user }) : Promise.resolve());
    if (result.refused) {
      // Never retried: an endpoint outside the policy (or resolving inside our network) is an operator's call to revoke.
      deps.logger.warn({ user, device: endpointHash, reason: result.refused }, 'push endpoint refused by policy');
      await record('push_refused');
      throw new UnrecoverableError(`the push endpoint was refused: it ${result.refused}`);
    }
    if (s !== null && s >= 200 && s < 300) {
      // A device in use never expires; one nothing reaches for PUSH_SUBSCRIPTION_TTL_DAYS does.
      await deps.subscriptions.renew(user, endpointHash);
      await record('push_sent');
      return 'sent';
    }
    if (s === 404 || s === 410) {
      const removed = await deps.subscriptions.removeIfUnchanged(user, endpointHash, stored.subscription.endpoint);
      deps.logger.info({ user, status: s, removed }, 'push subscription gone');
      await record('push_device_gone');
      return 'gone';
    }
    if (s === 429) {
      await job.moveToDelayed(Date.now() + (result.retryAfterMs ?? 60_000), token);
      throw new DelayedError();
    }
    if (s === null || s >= 500) return rethrowForQueue(new DeliveryError('Push service', 'transient', s, `the push service answered ${s ?? 'nothing'}`), deps.queue, deps.logger, deps.configPauseMs);
    if (s === 401 || s === 403) return rethrowForQueue(new DeliveryError('Push service', 'configuration', s, `the push service refused our VAPID credentials (${s})`), deps.queue, deps.logger, deps.configPauseMs);
    await record('push_failed');
    throw new UnrecoverableError(`the push service refused the notification (${s})`);
  };
}
