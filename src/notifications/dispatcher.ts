import type { NotificationPlan } from '../domain/notification-plan';
import type { Logger } from '../logger';
import type { PushProducer } from '../queues/push';
import type { RapidProNotifyProducer } from '../queues/rapidpro-notify';
import type { ContactStore } from '../store/contacts';
import type { TraceStore } from '../store/trace';

/**
 * Turns a plan into queued notifications. A channel that is not configured (no VAPID keys, no RapidPro
 * token) is skipped; an opted-out URN gets no flow start.
 */
export class NotificationDispatcher {
  constructor(
    private readonly push: PushProducer | null,
    private readonly rapidpro: RapidProNotifyProducer | null,
    private readonly contacts: ContactStore,
    private readonly trace: TraceStore,
    private readonly logger: Logger,
  ) {}

  async dispatch(plan: NotificationPlan, reference: string | null): Promise<void> {
    if (this.push) {
      for (const p of plan.pushes) {
        const devices = await this.push.notify(p.user, p.notice, p.key, reference);
        if (reference) await this.trace.record(reference, 'push_queued', { event: p.notice.event, user: p.user, devices });
        if (devices === 0) this.logger.info({ event: p.notice.event, user: p.user }, 'no enrolled device for this user');
      }
    }
    if (this.rapidpro) {
      for (const f of plan.flowStarts) {
        if (await this.contacts.isOptedOut(f.urn)) {
          await this.trace.record(f.reference, 'flow_start_skipped', { status: f.status, reason: 'opted_out' });
          continue;
        }
        await this.rapidpro.notify({ urn: f.urn, reference: f.reference, status: f.status }, f.key);
        await this.trace.record(f.reference, 'flow_start_queued', { status: f.status });
      }
    }
  }
}
