import type { NotificationPlan } from '../domain/notification-plan';
import type { RapidProNotifyProducer } from '../queues/rapidpro-notify';
import type { ContactStore } from '../store/contacts';
import type { TraceStore } from '../store/trace';
import type { Notifier } from './notifier';

/** A RapidPro flow start telling the community member how their case moves; an opted-out URN gets none. */
export function flowStartNotifier(rapidpro: RapidProNotifyProducer | null, contacts: ContactStore, trace: TraceStore): Notifier {
  return {
    name: 'rapidpro',
    enabled: rapidpro !== null,
    async enqueue(plan: NotificationPlan) {
      if (!rapidpro) return;
      for (const f of plan.flowStarts) {
        if (await contacts.isOptedOut(f.urn)) {
          await trace.record(f.reference, 'flow_start_skipped', { status: f.status, reason: 'opted_out' });
          continue;
        }
        await rapidpro.notify({ urn: f.urn, reference: f.reference, status: f.status }, f.key);
        await trace.record(f.reference, 'flow_start_queued', { status: f.status });
      }
    },
  };
}
