/** Queue names are part of the Redis layout: renaming one strands the jobs already stored under it. */
export const QUEUES = {
  intake: 'intake',
  whatsappReplies: 'whatsapp-replies',
  whatsappUnreadable: 'whatsapp-unreadable',
  primeroEvents: 'primero-events',
  primeroPoll: 'primero-poll',
  push: 'push',
  rapidproNotify: 'rapidpro-notify',
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * Queues whose jobs carry no message (a scheduled run), derived from the catalogue's schedulers. Re-exported
 * after QUEUES on purpose: the catalogue reads QUEUES, and the re-export is read lazily, so either module may load first.
 */
export { SCHEDULED_QUEUES } from './jobs';
