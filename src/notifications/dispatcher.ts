import type { NotificationPlan } from '../domain/notification-plan';
import type { Notifier } from './notifier';

/** Turns a plan into queued notifications: each enabled notifier in turn, in the order of the list. */
export class NotificationDispatcher {
  constructor(private readonly notifiers: readonly Notifier[]) {}

  async dispatch(plan: NotificationPlan, reference: string | null): Promise<void> {
    for (const notifier of this.notifiers) {
      if (notifier.enabled) await notifier.enqueue(plan, reference);
    }
  }
}
