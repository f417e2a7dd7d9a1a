import { DelayedError, UnrecoverableError, type Job, type Queue } from 'bullmq';
import { DeliveryError } from '../src/clients/delivery-error';
import type { WebPushClient } from '../src/clients/webpush';
import { pushServiceFamily } from '../src/clients/push-service-family';
import type { DisplayIds } from '../src/cases/display-ids';
import { pushPayload, pushTopic, type PushTexts } from '../src/domain/push-texts';
import type { Logger } from '../src/logger';
import type { JobData } from '../src/queues/jobs';
import type { SharedCounters } from '../src/store/counters';
import type { PushSubscription, PushSubscriptionStore } from '../src/store/push-subscriptions';
import type { TraceStore } from '../src/store/trace';
import { rethrowForQueue } from '../src/queues/failure-policy';

export interface PushDeps {
  client: WebPushClient;
  subscriptions: PushSubscriptionStore;
  texts: PushTexts;
  /** A notice queued before the display id was known has it filled in here, where it is shown. */
  displayIds: Pick<DisplayIds, 'of'>;
  primeroUrl: string;
  ttlSeconds: number;
  trace: TraceStore;
  logger: Logger;
  queue: Queue;
  authFailurePauseMs: number;
  counters: Pick<SharedCounters, 'increment'>;
}

/**
 * Sends one notice to one device and acts on the push client's DeliveryError: the device gone is removed
 * (if it is still the same subscription; one re-subscribed meanwhile gets this notice); a delivery told to wait waits Retry-After without spending an
 * attempt; an endpoint our policy refused, a refused notice, or a 401/403 for this subscription (VAPID) is
 * permanent for this device alone; the rest (5xx, no answer) goes the way of every destination's failures.
 */
export function pushProcessor(deps: PushDeps) {
  return async (job: Job<JobData<'push'>>, token?: string): Promise<string> => {
    const { user, endpointHash, notice: queued, reference } = job.data;
    const stored = await deps.subscriptions.get(user, endpointHash);
    if (!stored) return 'skipped-unsubscribed';
    const notice = queued.caseIdDisplay === null ? { ...queued, caseIdDisplay: await deps.displayIds.of(queued.recordType, queued.recordId) } : queued;
    let payload: string;
    try {
      payload = pushPayload(notice, stored.language, deps.texts, deps.primeroUrl);
    } catch (err) {
      throw new UnrecoverableError((err as Error).message);
    }
    const record = (event: string) => (reference ? deps.trace.record(reference, event, { event: notice.event, user }) : Promise.resolve());
    try {
      await deps.client.deliver(stored.subscription, payload, {
        ttlSeconds: deps.ttlSeconds,
        urgency: notice.urgent ? 'high' : 'normal',
        topic: pushTopic(notice.recordId),
      });
    } catch (err) {
      return handleFailure(err, { deps, job, token, user, endpointHash, subscription: stored.subscription, record });
    }
    // A device in use never expires; one nothing reaches for PUSH_SUBSCRIPTION_TTL_DAYS does.
    await deps.subscriptions.renew(user, endpointHash);
    await record('push_sent');
    return 'sent';
  };
}

interface FailedPush {
  deps: PushDeps;
  job: Job<JobData<'push'>>;
  token: string | undefined;
  user: string;
  endpointHash: string;
  /** The subscription this push was sent with: a 410 is about it, not about one enrolled meanwhile. */
  subscription: PushSubscription;
  record: (event: string) => Promise<unknown>;
}

async function handleFailure(err: unknown, push: FailedPush): Promise<string> {
  const { deps, user, record } = push;
  if (!(err instanceof DeliveryError)) throw err;
  if (err.hint?.is === 'gone') {
    const removed = await deps.subscriptions.removeIfUnchanged(user, push.endpointHash, push.subscription);
    // The device's id, never the caseworker's Primero user name (often their own name), as in every line here.
    deps.logger.info({ device: push.endpointHash, status: err.status, removed }, 'push subscription gone');
    if (!removed && (await deps.subscriptions.get(user, push.endpointHash))) {
      // The browser re-subscribed while this push was answered: this alert goes to the new subscription, now, without
      // spending an attempt (the retry reads the subscription afresh).
      await push.job.moveToDelayed(Date.now(), push.token);
      throw new DelayedError();
    }
    await record('push_device_gone');
    return 'gone';
  }
  // Before rethrowForQueue: a 429 is transient with retryAfterMs, which it would turn into a pause of the whole push queue.
  if (err.hint?.is === 'wait') {
    await push.job.moveToDelayed(Date.now() + (err.retryAfterMs ?? 60_000), push.token);
    throw new DelayedError();
  }
  if (err.hint?.is === 'refused') {
    // Never retried: an endpoint outside the policy (or resolving inside our network) is an operator's call to revoke.
    deps.logger.warn({ device: push.endpointHash, reason: err.hint.reason }, 'push endpoint refused by policy');
    await record('push_refused');
    throw new UnrecoverableError(err.message);
  }
  if (err.hint?.is === 'vapid_refused') {
    // One device's dead letter, never a pause: the queue carries every caseworker's alerts, on every push service.
    const service = pushServiceFamily(push.subscription.endpoint);
    deps.counters.increment('gateway_push_vapid_refused_total', { service, status: String(err.status) });
    deps.logger.warn({ device: push.endpointHash, service, status: err.status }, 'push service refused the VAPID signature for one device');
    await record('push_vapid_refused');
    throw new UnrecoverableError(`${err.message}; device ${push.endpointHash}: enroll it again, or revoke it`);
  }
  if (err.kind === 'permanent') {
    await record('push_failed');
    throw new UnrecoverableError(err.message);
  }
  return rethrowForQueue(err, deps.queue, deps.logger, deps.authFailurePauseMs);
}
