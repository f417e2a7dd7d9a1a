import type { AdminSessionStore } from '../store/admin-sessions';
import type { AuditLog } from '../store/audit';

/**
 * Logs every browser out of the queue dashboard and the console (after an ADMIN_TOKEN rotation, or a lost phone),
 * audited: what `npm run admin -- sessions end-all` and the console's Audit page both do.
 */
export async function endAllSessions(sessions: AdminSessionStore, audit: AuditLog, actor: string): Promise<number> {
  const ended = await sessions.endAll();
  await audit.record({ actor, action: 'admin.sessions_ended', target: 'dashboard', detail: { count: ended } });
  return ended;
}
