/** Queue names are part of the Redis layout: renaming one strands the jobs already stored under it. */
export const QUEUES = {
  intake: 'intake',
  whatsappReplies: 'whatsapp-replies',
  whatsappUnreadable: 'whatsapp-unreadable',
  africastalkingReplies: 'africastalking-replies',
  primeroEvents: 'primero-events',
  primeroPoll: 'primero-poll',
  push: 'push',
  rapidproNotify: 'rapidpro-notify',
  caseworkerMessages: 'caseworker-messages',
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

// SCHEDULED_QUEUES lives in the job catalogue (./jobs), derived from its schedulers: the catalogue reads
// QUEUES at load, so this module must not import it back (tsx/esbuild hoists the cycle and breaks it).
