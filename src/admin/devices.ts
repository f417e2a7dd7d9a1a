import type { AuditLog } from '../store/audit';
import type { DeviceView, PushSubscriptionStore } from '../store/push-subscriptions';

/** A caseworker's enrolled devices, listed and revoked by an operator (admin API and CLI alike), each action audited. */
export class DeviceAdmin {
  constructor(
    private readonly subscriptions: PushSubscriptionStore,
    private readonly audit: AuditLog,
  ) {}

  async list(user: string, actor: string): Promise<DeviceView[]> {
    const devices = await this.subscriptions.devices(user);
    await this.audit.record({ actor, action: 'push.devices_listed', target: user, detail: { count: devices.length } });
    return devices;
  }

  /** Null when no device has this id (already revoked, expired, or never enrolled). */
  async revoke(id: string, actor: string): Promise<{ id: string; user_name: string } | null> {
    const user = await this.subscriptions.revoke(id);
    if (!user) return null;
    await this.audit.record({ actor, action: 'push.device_revoked', target: id, detail: { user_name: user } });
    return { id, user_name: user };
  }
}

export const USER_NAME = /^[A-Za-z0-9._@-]{1,100}$/;
export const DEVICE_ID = /^[A-Za-z0-9_-]{8,128}$/;
