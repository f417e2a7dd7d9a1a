import type { NotificationPlan } from '../domain/notification-plan';

/**
 * One notification target. The plan says who is told what (domain/notification-plan); each notifier queues
 * its share of it. A new target is a new notifier in the list `buildNotificationServices` hands the dispatcher.
 */
export interface Notifier {
  name: string;
  /** A target that is not configured (no VAPID keys, no RapidPro token) queues nothing. */
  enabled: boolean;
  enqueue(plan: NotificationPlan, reference: string | null): Promise<void>;
}
