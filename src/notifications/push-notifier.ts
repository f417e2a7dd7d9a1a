import type { NotificationPlan } from '../domain/notification-plan';
import type { Logger } from '../logger';
import type { PushProducer } from '../queues/push';
import type { TraceStore } from '../store/trace';
import type { Notifier } from './notifier';

/** Web push to caseworkers: one job per enrolled device of each planned user. */
export function pushNotifier(push: PushProducer | null, trace: TraceStore, logger: Logger): Notifier {
  return {
    name: 'push',
    enabled: push !== null,
    async enqueue(plan: NotificationPlan, reference: string | null) {
      if (!push) return;
      for (const p of plan.pushes) {
        const devices = await push.notify(p.user, p.notice, p.key, reference);
        if (reference) await trace.record(reference, 'push_queued', { event: p.notice.event, user: p.user, devices });
        if (devices === 0) logger.info({ event: p.notice.event, user: p.user }, 'no enrolled device for this user');
      }
    },
  };
}
