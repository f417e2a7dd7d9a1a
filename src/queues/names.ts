/** Queue names are part of the Redis layout: renaming one strands the jobs already stored under it. */
export const QUEUES = {
  intake: 'intake',
  whatsappReplies: 'whatsapp-replies',
  primeroEvents: 'primero-events',
  primeroPoll: 'primero-poll',
  push: 'push',
  rapidproNotify: 'rapidpro-notify',
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Queues whose jobs carry no message (a scheduled run): their failures are not dead letters. */
export const SCHEDULED_QUEUES: ReadonlySet<string> = new Set<QueueName>([QUEUES.primeroPoll, QUEUES.maintenance]);
