import type { JobsOptions, Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { InboundMessage, UnreferencedMessage } from '../domain/inbound-message';
import type { IdentifierHasher } from '../security/identifier-hash';
import { PERSONAL_MESSAGE_FIELDS, sealContext, type PayloadCodec } from '../security/payload-codec';
import type { AcceptanceLedger } from '../store/acceptances';
import type { ReferenceStore } from '../store/references';
import { QueueUnavailableError, withinDeadline } from './deadline';

export { QueueUnavailableError };

export const INTAKE_JOB = 'inbound-message';
/** Marks the backoff as ours (`workers/retry-policy`), so Retry-After and the cap apply. */
export const GATEWAY_BACKOFF = 'gateway';

export interface IntakeOptions {
  attempts: number;
  idempotencyWindowMs: number;
  completedRetentionSeconds: number;
  deadLetterRetentionDays: number;
  enqueueTimeoutMs: number;
}

export interface Accepted {
  reference: string;
  duplicate: boolean;
  /** Added to an earlier report's record instead of opening a new one. */
  merged: boolean;
  /** RapidPro's simulator: a real-looking reference that names nothing. */
  simulated?: boolean;
}

/** Groups later reports into an earlier one: the same key within `windowSeconds` answers the first reference. */
export interface MergeWindow {
  key: string;
  windowSeconds: number;
}

/**
 * Job ids carry the reference the sender was given: `m-<reference>`, or `m-<reference>-<own>` for a message
 * merged into an earlier report. A duplicate delivery learns the reference from the stored job id alone.
 */
export function referenceOfJobId(jobId: string): string {
  return jobId.startsWith('m-') ? jobId.slice(2).split('-')[0]! : jobId;
}

/** The merged message's own reference, from `m-<reference>-<own>` (null for a message that is not merged). */
export function ownReferenceOfJobId(jobId: string): string | null {
  return jobId.startsWith('m-') ? (jobId.slice(2).split('-')[1] ?? null) : null;
}

/** Bounds the wait for a withdrawal's answer after the deadline: past it, 503 stands (the withdrawal still lands). */
export const WITHDRAW_ANSWER_MS = 250;

interface Attempt {
  abandoned: boolean;
  /** Set just before the claim is sent, so a deadline that fires while it is in flight still undoes it. */
  claim: { acceptanceId: string; own: string; mergeKey?: string } | null;
  accepted: Accepted | null;
}

/** The only way a message enters the gateway: stored in Redis before anyone is told it was accepted. */
export class IntakeProducer {
  private readonly jobOptions: JobsOptions;

  constructor(
    readonly queue: Queue,
    _redis: Redis,
    private readonly references: ReferenceStore,
    private readonly codec: PayloadCodec,
    private readonly hasher: IdentifierHasher,
    private readonly opts: IntakeOptions,
    /** On the same connection as `queue`: the withdrawal must land after the add it withdraws. */
    private readonly ledger: AcceptanceLedger,
  ) {
    this.jobOptions = {
      attempts: opts.attempts,
      backoff: { type: GATEWAY_BACKOFF },
      removeOnComplete: { age: opts.completedRetentionSeconds },
      // The failed set is the dead-letter store: kept until an operator replays or discards it.
      removeOnFail: false,
    };
  }

  /**
   * Stores the message once per idempotency key (the ledger, not BullMQ's deduplication, which `clean`
   * removes with the job). Past the deadline the answer is 503 and it is true: the late job is withdrawn
   * before any worker acts on it, or, when a worker already began, the answer is its reference.
   */
  async submit(unhashed: UnreferencedMessage, merge?: MergeWindow, timeoutMs = this.opts.enqueueTimeoutMs): Promise<Accepted> {
    // The provider's id (a wamid encodes the sender's number) is kept only as its keyed hash: in the job and the ledger.
    const message = { ...unhashed, idempotencyKey: this.hasher.deduplicationId(unhashed.idempotencyKey) };
    const attempt: Attempt = { abandoned: false, claim: null, accepted: null };
    const work = this.store(message, merge, attempt);
    try {
      return await withinDeadline(() => work, timeoutMs);
    } catch (err) {
      attempt.abandoned = true;
      const claim = attempt.claim;
      if (!claim) throw err;
      const outcome = await withinDeadline(() => this.ledger.withdraw(message.idempotencyKey, claim.acceptanceId, claim.own, claim.mergeKey), WITHDRAW_ANSWER_MS).catch(
        () => 'unanswered' as const,
      );
      if ((outcome === 'started' || outcome === 'stored') && attempt.accepted) return attempt.accepted;
      throw err;
    }
  }

  private async store(message: UnreferencedMessage, merge: MergeWindow | undefined, attempt: Attempt): Promise<Accepted> {
    const own = await this.references.next();
    if (attempt.abandoned) throw new QueueUnavailableError('abandoned at the deadline');
    attempt.claim = { acceptanceId: randomUUID(), own, mergeKey: merge?.key };
    const { fresh, acceptance } = await this.ledger.claim(message.idempotencyKey, own, attempt.claim.acceptanceId, merge);
    // A repeat re-adds the FIRST acceptance's job: a withdrawal must name that acceptance, not this delivery's draw.
    attempt.claim = { acceptanceId: acceptance.acceptanceId, own: acceptance.own, mergeKey: merge?.key };
    attempt.accepted = { reference: acceptance.reference, duplicate: !fresh, merged: fresh && acceptance.mergeInto !== null };
    // A repeat whose first delivery may have died between its claim and its add puts the same job back
    // (same id, so a no-op when it exists); the worker acts once per acceptance either way.
    if (fresh || !acceptance.stored) {
      if (attempt.abandoned) throw new QueueUnavailableError('abandoned at the deadline');
      const data = this.codec.encode(
        { ...message, reference: acceptance.reference, mergeInto: acceptance.mergeInto, acceptanceId: acceptance.acceptanceId } as InboundMessage,
        PERSONAL_MESSAGE_FIELDS,
        sealContext.job(this.queue.name),
      );
      await this.queue.add(INTAKE_JOB, data, { ...this.jobOptions, jobId: acceptance.jobId });
      if (attempt.abandoned) throw new QueueUnavailableError('abandoned at the deadline');
      if (!(await this.ledger.markStored(message.idempotencyKey, acceptance.acceptanceId))) throw new QueueUnavailableError('the acceptance was withdrawn');
    }
    return attempt.accepted;
  }
}
