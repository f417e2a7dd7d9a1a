import type { AuditLog } from '../store/audit';
import type { PushSubscriptionStore } from '../store/push-subscriptions';

export interface EnrollmentSettings {
  subscriptions: PushSubscriptionStore;
  publicUrl: string | undefined;
  ttlHours: number;
}

export interface IssuedEnrollment {
  token: string;
  url: string;
  expires_at: string;
}

/** A Primero user name as an enrollment names it. */
export const ENROLLMENT_USER = /^[A-Za-z0-9._@-]{1,100}$/;

/** One-time enrollment link for a caseworker's device, audited; POST /admin/enrollments and the console both issue it here. */
export async function issueEnrollment(settings: EnrollmentSettings, audit: AuditLog, user: string, actor: string): Promise<IssuedEnrollment> {
  const ttl = settings.ttlHours * 3600;
  const token = await settings.subscriptions.createEnrollment(user, ttl);
  await audit.record({ actor, action: 'push.enrollment_created', target: user });
  return { token, url: `${settings.publicUrl ?? ''}/push?token=${token}`, expires_at: new Date(Date.now() + ttl * 1000).toISOString() };
}
