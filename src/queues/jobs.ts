import type { JobsOptions } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { sha256Hex } from '../domain/idempotency';
import type { InboundMessage } from '../domain/inbound-message';
import type { RecordLook } from '../domain/record-events';
import { PUSH_EVENTS } from '../domain/push-texts';
import { PERSONAL_MESSAGE_FIELDS } from '../security/payload-codec';
import { caseworkerMessageSchema } from './caseworker-message-schema';
import { intakeJobId } from './intake-job-id';
import { QUEUES, type QueueName } from './names';
import { replyAnswers } from '../replies/opt-out-gate';

/** Marks the backoff as ours (`domain/retry-policy`), so Retry-After and the cap apply. */
export const GATEWAY_BACKOFF = 'gateway';
export { intakeJobId } from './intake-job-id';

const pushNoticeSchema = z.object({
  event: z.enum(PUSH_EVENTS),
  recordType: z.enum(['case', 'incident']),
  recordId: z.string(),
  caseIdDisplay: z.string().nullable(),
  urgent: z.boolean(),
});

export interface IntakeJobRetention {
  attempts: number;
  completedRetentionSeconds: number;
}

export interface JobRetention {
  attempts: number;
  /** How long the same notification key is refused again. */
  dedupeWindowMs: number;
}

type Deduplication = { id: string; ttl: number };

/** Options every notification job shares: our backoff, no trace once done, dead letters kept, one per key. */
function notificationJobOptions(key: string, r: JobRetention): JobsOptions {
  return {
    attempts: r.attempts,
    backoff: { type: GATEWAY_BACKOFF },
    removeOnComplete: true,
    // Dead letters stay until an operator replays or discards them (DEAD_LETTER_RETENTION_DAYS only makes them overdue).
    removeOnFail: false,
    // Notification keys name references, record ids and device hashes, never a person: a plain hash will do.
    deduplication: { id: sha256Hex(key), ttl: r.dedupeWindowMs },
  };
}

/** A reply's options: our backoff, one per inbound message (`deduplication`), gone once sent, kept as a dead letter when not. */
const replyJobOptions = (attempts: number, deduplication: Deduplication): JobsOptions => ({ attempts, backoff: { type: GATEWAY_BACKOFF }, deduplication, removeOnComplete: true, removeOnFail: false });

/**
 * One queue's jobs: the name they are added under and the id or deduplication key they get (both part of the
 * stored layout), what they carry opened (a sealed field is what the processor sees after `openJob`), the
 * payload fields sealed with DATA_KEY (the codec seals them; forget and masking read them), their options,
 * and a scheduled queue's scheduler id (upsertJobScheduler is idempotent across restarts).
 */
export interface JobEntry {
  name: string;
  schema: z.ZodType;
  sealed: readonly string[];
  options: (...args: never[]) => JobsOptions;
  /** The key a notification or reply is deduplicated by (hashed before BullMQ sees it). */
  dedupeKey?: (...args: never[]) => string;
  /** A job id the producer sets itself (intake ids are the ledger's: `intakeJobId`). */
  jobId?: (key: string) => string;
  scheduler?: string;
  /**
   * What a call whose answer was lost (a DeliveryError hinted `maybe_sent`) becomes in the failure policy: `retry`
   * unless said otherwise; `not_confirmed` for a queue whose call is itself a message to a person (never sent twice:
   * a dead letter saying it may have gone out). A queue that calls other systems first (a caseworker message reads
   * Primero) settles its send's own `maybe_sent` before the policy and keeps `retry` for the rest.
   */
  afterMaybeSent?: 'retry' | 'not_confirmed';
  /** Starts allowed beyond its attempts (a wait a destination asked for spends none): the worker's maxStartedAttempts
   * less attempts, given back by a replay. Unset: starts are not capped, and a replay keeps them (intake reads them). */
  maxWaits?: number;
}

/** The job catalogue: one entry per queue. Dead letters (the failed set) are kept on every message queue. */
/** Every caseworker-messages queue (one per channel, names.ts) holds these: the address sealed (and the words, in a job an earlier build stored). */
const caseworkerMessageEntry = {
  name: 'caseworker-message',
  schema: caseworkerMessageSchema,
  sealed: ['urn', 'contactUuid', 'text'] as const,
  /** One job per note; the ledger (src/store/caseworker-messages.ts), not this, keeps it to one send. */
  dedupeKey: (recordId: string, noteId: string) => `caseworker-message:${recordId}:${noteId}`,
  options: notificationJobOptions,
};

export const JOBS = {
  [QUEUES.intake]: {
    name: 'inbound-message',
    // Type only: the checked schema (channels/inbound-message-schema.ts) reads the channel list, which loads
    // every channel's express route; the worker's imports of this catalogue must not pull express in.
    schema: z.custom<InboundMessage>((v) => typeof v === 'object' && v !== null),
    sealed: PERSONAL_MESSAGE_FIELDS,
    /** Its job id is `intakeJobId.of(...)`, chosen by the acceptance ledger (see `intakeJobId`). */
    options: (r: IntakeJobRetention): JobsOptions => ({
      attempts: r.attempts,
      backoff: { type: GATEWAY_BACKOFF },
      removeOnComplete: { age: r.completedRetentionSeconds },
      removeOnFail: false,
    }),
  },
  [QUEUES.whatsappReplies]: {
    name: 'reply',
    schema: z.object({ waId: z.string(), text: z.string(), reference: z.string().nullable(), sensitive: z.boolean().optional(), answers: replyAnswers }),
    sealed: ['waId', 'text'],
    /** One reply per inbound wamid (the key is hashed with HASH_KEY before it is used). */
    dedupeKey: (inboundWamid: string) => `whatsapp-reply:${inboundWamid}`,
    options: replyJobOptions,
    afterMaybeSent: 'not_confirmed',
  },
  [QUEUES.africastalkingReplies]: {
    name: 'reply',
    /** `urn` is the sender's `tel:` URN (their number), so forget and masking find it as they find a message's. `sensitive`: QueuedReply (src/replies/held-back-reply.ts). */
    schema: z.object({ urn: z.string(), text: z.string(), reference: z.string().nullable(), sensitive: z.boolean().optional(), answers: replyAnswers }),
    sealed: ['urn', 'text'],
    /** One reply per inbound Africa's Talking message id (the key is hashed with HASH_KEY before it is used). */
    dedupeKey: (inboundId: string) => `africastalking-reply:${inboundId}`,
    options: replyJobOptions,
    afterMaybeSent: 'not_confirmed',
  },
  [QUEUES.whatsappUnreadable]: {
    name: 'unreadable',
    schema: z.object({
      wamid: z.string().nullable(),
      reason: z.string(),
      waId: z.string().nullable(),
      text: z.string(),
      /** Keyed hashes of every `whatsapp:` identity the kept item names: what forget matches it by. */
      senders: z.array(z.string()),
    }),
    sealed: ['wamid', 'waId', 'text'],
    /** One job per message: its wamid, else its whole body (hashed with HASH_KEY before it is used). */
    dedupeKey: (wamidOrBody: string) => `whatsapp-unreadable:${wamidOrBody}`,
    /** Its one attempt fails at once: the only copy of a message Meta was answered 200 for lives in the failed set. */
    options: (deduplication: Deduplication): JobsOptions => ({
      attempts: 1,
      deduplication,
      removeOnComplete: true,
      removeOnFail: false,
    }),
  },
  [QUEUES.primeroEvents]: {
    name: 'record-changed',
    schema: z.custom<RecordLook>((v) => typeof v === 'object' && v !== null),
    sealed: ['safe'], // the body's safe-to-contact answers; a job stored before they were sealed opens as it is
    /** By record and last update: the same change arriving by webhook and by the poller is one job. */
    dedupeKey: (look: RecordLook) => `primero-change:${look.recordId}:${look.lastUpdatedAt}`,
    // A fresh id per call: a duplicate add returns the first job's id, which is how a repeat is told apart.
    jobId: (key: string) => `c-${sha256Hex(key).slice(0, 24)}-${randomUUID().slice(0, 8)}`,
    options: (key: string, r: JobRetention, jobId: string): JobsOptions => ({ ...notificationJobOptions(key, r), jobId }),
  },
  [QUEUES.primeroPoll]: {
    name: 'poll',
    schema: z.unknown(),
    sealed: [],
    options: (): JobsOptions => ({ removeOnComplete: true, removeOnFail: 50, attempts: 1 }),
    scheduler: 'poll-changed-cases',
  },
  [QUEUES.push]: {
    name: 'push',
    /** One job per device: a 429 or a dead endpoint on one phone delays or drops that phone only. */
    schema: z.object({ user: z.string(), endpointHash: z.string(), notice: pushNoticeSchema, reference: z.string().nullable() }),
    sealed: [],
    dedupeKey: (key: string, endpointHash: string) => `push:${key}:${endpointHash}`,
    options: notificationJobOptions,
    maxWaits: 20,
  },
  [QUEUES.rapidproNotify]: {
    name: 'flow-start',
    /** The URN is sealed with DATA_KEY; params carry the reference and a status word, nothing else. */
    schema: z.object({ urn: z.string(), reference: z.string(), status: z.enum(['received', 'in_progress', 'closed']) }),
    sealed: ['urn'],
    dedupeKey: (key: string) => `flow:${key}`,
    options: notificationJobOptions,
    // RapidPro's flow_starts take no idempotency key: a start whose answer was lost may have reached the person.
    afterMaybeSent: 'not_confirmed',
  },
  [QUEUES.caseworkerMessages]: caseworkerMessageEntry,
  [QUEUES.caseworkerMessagesRapidpro]: caseworkerMessageEntry,
  [QUEUES.caseworkerMessagesWhatsapp]: caseworkerMessageEntry,
  [QUEUES.caseworkerMessagesTwilio]: caseworkerMessageEntry,
  [QUEUES.caseworkerMessagesAfricastalking]: caseworkerMessageEntry,
  [QUEUES.maintenance]: {
    name: 'purge-expired',
    schema: z.unknown(),
    sealed: [],
    options: (): JobsOptions => ({ removeOnComplete: true, removeOnFail: 10 }),
    scheduler: 'retention',
  },
} as const satisfies Record<QueueName, JobEntry>;

export type JobData<Q extends QueueName> = z.infer<(typeof JOBS)[Q]['schema']>;

/** Whether a failed call of `queue` whose answer was lost is settled as not confirmed rather than retried. */
export function settlesMaybeSent(queue: string): boolean {
  return Object.hasOwn(JOBS, queue) && (JOBS as Record<string, JobEntry>)[queue]!.afterMaybeSent === 'not_confirmed';
}

/** Queues whose jobs carry no message (a scheduled run): their failures are not dead letters. */
export const SCHEDULED_QUEUES: ReadonlySet<string> = new Set<string>(
  Object.entries(JOBS as Record<QueueName, JobEntry>)
    .filter(([, entry]) => entry.scheduler !== undefined)
    .map(([queue]) => queue),
);

interface JobLike {
  id?: string | undefined;
  data: unknown;
}

/**
 * The reference a job is about, for logs, traces and dead letters: an intake job's from its id (its payload
 * may be sealed), another's from its payload. Two rules, on purpose: this one knows the queue and trusts an
 * intake id first (a merged message's id names the report it joined); `referenceOfDeadLetter` spans queues
 * without knowing them, so it reads the payload first and falls back to an intake id.
 */
export function referenceOfJob(queue: string, job: JobLike): string | null {
  if (queue === QUEUES.intake) return intakeJobId.referenceOf(job.id ?? '');
  const data = job.data as { reference?: unknown } | null | undefined;
  return typeof data?.reference === 'string' ? data.reference : null;
}

/** The same for a dead letter of any queue: the payload's reference, else the one an intake id names. */
export function referenceOfDeadLetter(job: JobLike): string | null {
  const data = job.data as { reference?: unknown } | null | undefined;
  if (typeof data?.reference === 'string') return data.reference;
  return intakeJobId.isIntake(job.id) ? intakeJobId.referenceOf(job.id) : null;
}

/**
 * Who a job's payload is about (its recipient): its URN, the URN of each channel's own sender id it carries
 * (`senderIdFields`, from the channel list, which this catalogue does not load), and its RapidPro contact.
 */
export function recipientsOfPayload(data: Record<string, unknown>, senderIdFields: ReadonlyArray<readonly [field: string, urnOf: (id: string) => string]>): string[] {
  const out: string[] = [];
  if (typeof data.urn === 'string') out.push(data.urn);
  for (const [field, urnOf] of senderIdFields) {
    const id = data[field];
    if (typeof id === 'string') out.push(urnOf(id));
  }
  if (typeof data.contactUuid === 'string') out.push(data.contactUuid.toLowerCase());
  return out;
}
