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
  /** Caseworker messages for a channel no sender of its own serves: they end as "not sent: no channel". */
  caseworkerMessages: 'caseworker-messages',
  // One queue per sending channel: one provider's configuration fault or Retry-After pauses only its own messages.
  caseworkerMessagesRapidpro: 'caseworker-messages-rapidpro',
  caseworkerMessagesWhatsapp: 'caseworker-messages-whatsapp',
  caseworkerMessagesTwilio: 'caseworker-messages-twilio',
  caseworkerMessagesAfricastalking: 'caseworker-messages-africastalking',
  maintenance: 'maintenance',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Every queue holding caseworker messages (one job schema), by the record channel it serves. */
export const CASEWORKER_MESSAGE_QUEUES = {
  rapidpro: QUEUES.caseworkerMessagesRapidpro,
  whatsapp: QUEUES.caseworkerMessagesWhatsapp,
  twilio: QUEUES.caseworkerMessagesTwilio,
  africastalking: QUEUES.caseworkerMessagesAfricastalking,
  other: QUEUES.caseworkerMessages,
} as const;

export type CaseworkerMessageQueue = (typeof CASEWORKER_MESSAGE_QUEUES)[keyof typeof CASEWORKER_MESSAGE_QUEUES];

/** The queue a gateway record's caseworker messages wait in, from the record's channel. */
export function caseworkerQueueFor(channel: string): CaseworkerMessageQueue {
  return Object.hasOwn(CASEWORKER_MESSAGE_QUEUES, channel) && channel !== 'other' ? CASEWORKER_MESSAGE_QUEUES[channel as keyof typeof CASEWORKER_MESSAGE_QUEUES] : QUEUES.caseworkerMessages;
}

// SCHEDULED_QUEUES lives in the job catalogue (./jobs), derived from its schedulers: the catalogue reads
// QUEUES at load, so this module must not import it back (tsx/esbuild hoists the cycle and breaks it).
