import type { JobsOptions } from 'bullmq';
import { z } from 'zod';
import type { InboundMessage } from '../domain/inbound-message';
import type { RecordLook } from '../domain/record-events';
import { PUSH_EVENTS } from '../domain/push-texts';
import { QUEUES, type QueueName } from './names';

/** Marks the backoff as ours (`domain/retry-policy`), so Retry-After and the cap apply. */
export const GATEWAY_BACKOFF = 'gateway';

/**
 * Intake job ids carry the reference the sender was given: `m-<reference>`, or `m-<reference>-<own>` for a
 * message merged into an earlier report. A duplicate delivery learns the reference from the stored job id
 * alone, so this rule is part of the Redis layout; the acceptance ledger's script receives the prefix from here.
 */
export const intakeJobId = {
  prefix: 'm-',
  of(reference: string, own?: string): string {
    return own === undefined ? `${this.prefix}${reference}` : `${this.prefix}${reference}-${own}`;
  },
  isIntake(jobId: string | undefined): jobId is string {
    return jobId !== undefined && jobId.startsWith(this.prefix);
  },
  /** The reference the sender was given (an id that is no intake id is returned as it is). */
  referenceOf(jobId: string): string {
    return this.isIntake(jobId) ? jobId.slice(this.prefix.length).split('-')[0]! : jobId;
  },
  /** The merged message's own reference (null for a message that is not merged). */
  ownReferenceOf(jobId: string): string | null {
    return this.isIntake(jobId) ? (jobId.slice(this.prefix.length).split('-')[1] ?? null) : null;
  },
  /** Every reference a well-formed intake id names (none for any other id). */
  referencesNamed(jobId: string): string[] {
    if (!this.isIntake(jobId)) return [];
    const m = /^([^-]+)(?:-([^-]+))?$/.exec(jobId.slice(this.prefix.length));
    return m ? [m[1]!, ...(m[2] ? [m[2]] : [])] : [];
  },
};

const pushNoticeSchema = z.object({
  event: z.enum(PUSH_EVENTS),
  recordType: z.enum(['case', 'incident']),
  recordId: z.string(),
  caseIdDisplay: z.string().nullable(),
  urgent: z.boolean(),
});

/** What each queue's job carries, opened (a sealed field is what the processor sees after `openJob`). */
export const jobSchemas = {
  [QUEUES.intake]: z.custom<InboundMessage>((v) => typeof v === 'object' && v !== null),
  [QUEUES.whatsappReplies]: z.object({ waId: z.string(), text: z.string(), reference: z.string().nullable() }),
  [QUEUES.whatsappUnreadable]: z.object({
    wamid: z.string().nullable(),
    reason: z.string(),
    waId: z.string().nullable(),
    text: z.string(),
    /** Keyed hashes of every `whatsapp:` identity the kept item names: what forget matches it by. */
    senders: z.array(z.string()),
  }),
  [QUEUES.primeroEvents]: z.custom<RecordLook>((v) => typeof v === 'object' && v !== null),
  [QUEUES.primeroPoll]: z.unknown(),
  [QUEUES.push]: z.object({ user: z.string(), endpointHash: z.string(), notice: pushNoticeSchema, reference: z.string().nullable() }),
  [QUEUES.rapidproNotify]: z.object({ urn: z.string(), reference: z.string(), status: z.enum(['received', 'in_progress', 'closed']) }),
  [QUEUES.maintenance]: z.unknown(),
} satisfies Record<QueueName, z.ZodType>;

export type JobData<Q extends QueueName> = z.infer<(typeof jobSchemas)[Q]>;

/** The job name each queue's jobs are added under (part of the stored layout). */
export const JOB_NAMES = {
  [QUEUES.intake]: 'inbound-message',
  [QUEUES.whatsappReplies]: 'reply',
  [QUEUES.whatsappUnreadable]: 'unreadable',
  [QUEUES.primeroEvents]: 'record-changed',
  [QUEUES.primeroPoll]: 'poll',
  [QUEUES.push]: 'push',
  [QUEUES.rapidproNotify]: 'flow-start',
  [QUEUES.maintenance]: 'purge-expired',
} as const satisfies Record<QueueName, string>;

/** The payload fields sealed with DATA_KEY per queue (the codec seals them; forget and masking read them). */
export const SEALED_FIELDS = {
  [QUEUES.whatsappReplies]: ['waId', 'text'],
  [QUEUES.whatsappUnreadable]: ['wamid', 'waId', 'text'],
  [QUEUES.rapidproNotify]: ['urn'],
} as const;

export interface IntakeJobRetention {
  attempts: number;
  completedRetentionSeconds: number;
}

/** Dead letters (the failed set) are kept on every message queue until an operator replays or discards them. */
export const jobOptions = {
  intake: (r: IntakeJobRetention): JobsOptions => ({
    attempts: r.attempts,
    backoff: { type: GATEWAY_BACKOFF },
    removeOnComplete: { age: r.completedRetentionSeconds },
    removeOnFail: false,
  }),
  whatsappReply: (attempts: number, deduplication: { id: string; ttl: number }): JobsOptions => ({
    attempts,
    backoff: { type: GATEWAY_BACKOFF },
    deduplication,
    removeOnComplete: true,
    removeOnFail: false,
  }),
  /** Its one attempt fails at once: the only copy of a message Meta was answered 200 for lives in the failed set. */
  whatsappUnreadable: (deduplication: { id: string; ttl: number }): JobsOptions => ({
    attempts: 1,
    deduplication,
    removeOnComplete: true,
    removeOnFail: false,
  }),
  primeroPoll: { removeOnComplete: true, removeOnFail: 50, attempts: 1 } satisfies JobsOptions,
  maintenance: { removeOnComplete: true, removeOnFail: 10 } satisfies JobsOptions,
};

/** The scheduler ids of the scheduled queues (upsertJobScheduler is idempotent across restarts). */
export const SCHEDULERS = {
  [QUEUES.primeroPoll]: 'poll-changed-cases',
  [QUEUES.maintenance]: 'retention',
} as const;

interface JobLike {
  id?: string | undefined;
  data: unknown;
}

/**
 * The reference a job is about, for logs, traces and dead letters: an intake job's from its id (its payload
 * may be sealed), another's from its payload.
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
