/** Queue names are part of the Redis layout: renaming one strands the jobs already stored under it. */
export const QUEUES = {
  intake: 'intake',
  whatsappReplies: 'whatsapp-replies',
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
