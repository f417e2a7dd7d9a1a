import { z } from 'zod';
// Type only: the list of channels lives with their routes, which this pure module must not load.
import type { ChannelName } from '../channels/index';

export const INTENTS = ['referral', 'feedback'] as const;

export const flowResultSchema = z.object({ value: z.string(), category: z.string() });
export type FlowResult = z.infer<typeof flowResultSchema>;

/** How a job's `channel` is checked: src/channels/inbound-message-schema.ts passes the enum of the channel list. */
type ChannelSchema = z.ZodType<ChannelName, ChannelName>;

/**
 * The one envelope every channel normalises to. It is what a job carries, so it holds personal data
 * (urn, text, results) and must never be logged; log `reference` instead.
 */
export const inboundMessageSchemaWith = <C extends ChannelSchema>(channel: C) => z.object({
  v: z.literal(1),
  reference: z.string(),
  intent: z.enum(INTENTS),
  channel,
  idempotencyKey: z.string().min(1),
  urn: z.string().nullable(),
  contactUuid: z.string().nullable(),
  language: z.string().nullable(),
  text: z.string().nullable(),
  /** Links or provider media ids; media is never downloaded by the gateway. */
  attachments: z.array(z.string()).default([]),
  results: z.record(z.string(), flowResultSchema),
  flowUuid: z.string().nullable(),
  receivedAt: z.string(),
  simulation: z.boolean(),
  /** A sensitive report (e.g. sexual exploitation and abuse): its own module, focal point and silence. */
  sensitive: z.boolean().default(false),
  /** Set when this message adds to an earlier report's record (same sender and category within the window). */
  mergeInto: z.string().nullable().default(null),
  /**
   * With `mergeInto`: a follow-up (no keyword, the sender's open record) added to that record as a reporter's note.
   * Absent means false: jobs stored before it existed, and envelopes built without it, are no follow-ups.
   */
  followUp: z.boolean().optional(),
  /** Names this acceptance (the ledger's); the record id derives from it. Absent on jobs stored before it existed. */
  acceptanceId: z.string().nullable().default(null),
  /** Written by reseal into a job queued before acceptance ids, when it hashes the raw idempotencyKey the record id came from. */
  recordId: z.string().optional(),
});

type InboundMessageSchema = ReturnType<typeof inboundMessageSchemaWith<ChannelSchema>>;
export type InboundMessage = z.infer<InboundMessageSchema>;
export type UnreferencedMessage = Omit<z.input<InboundMessageSchema>, 'reference'>;
