import type { JobsOptions, Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { InboundMessage, UnreferencedMessage } from '../domain/inbound-message';
import { sha256Hex } from '../domain/idempotency';
import type { IdentifierHasher } from '../security/identifier-hash';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { ReferenceTakenError, type AcceptanceLedger, type MergeWindow } from '../store/acceptances';
import type { SharedCounters } from '../store/counters';
import type { ReferenceStore } from '../store/references';
import { DeadlinePassedError, QueueUnavailableError, ReplicationUnconfirmedError, withinDeadline } from './deadline';
import type { ReplicaAck, ReplicaWait } from './replica-ack';
import { intakeJobId, JOBS } from './jobs';
import { QUEUES } from './names';

export { QueueUnavailableError };

/** Inbound messages stored and confirmed (not duplicates, not simulated), across every API process. */
export const ACCEPTED_COUNTER = 'gateway_messages_accepted_total';
/** References the ledger refused as issued before (the reference counter went back), across every API process. */
const REFERENCES_TAKEN_COUNTER = 'gateway_references_already_issued_total';

export interface IntakeOptions {
  attempts: number;
  completedRetentionSeconds: number;
  enqueueTimeoutMs: number;
  /** REDIS_MIN_REPLICAS_ACK: a 2xx only once enough replicas hold the acceptance (queues/replica-ack.ts). */
  replicaAck?: ReplicaAck | undefined;
}

export interface Accepted {
  reference: string;
  duplicate: boolean;
  /** Added to an earlier report's record instead of opening a new one. */
  merged: boolean;
  /** RapidPro's simulator: a real-looking reference that names nothing. */
  simulated?: boolean;
  /** Joined to the sender's open record as a follow-up (the ledger's word, also for a duplicate). */
  followUp?: boolean;
  /** Protected as sensitive, as the first delivery decided (the ledger's word); undefined for an older entry. */
  sensitive?: boolean;
}

/** Groups later reports into an earlier one: the same key within `windowSeconds` answers the first reference. */
/**
 * After the confirmation window (which ends at most this long after the claim's answer, by Redis's clock),
 * how long the API still waits for the verdict before answering 503 without one.
 */
export const WITHDRAW_ANSWER_MS = 250;

/**
 * After the verdict `stored` (this delivery's, or the first delivery's for a duplicate): too few replicas is the one
 * 503 that cannot say nothing was stored. The sender's retry is a duplicate and answers the same reference.
 */
async function confirmedOnReplicas(replicated: ReplicaWait | undefined, accepted: Accepted, attempt: Attempt): Promise<Accepted> {
  attempt.stored = true;
  try {
    await replicated?.();
  } catch (err) {
    throw new ReplicationUnconfirmedError('stored, replication unconfirmed', { cause: err });
  }
  return accepted;
}

/** Fresh blocks tried when references come back taken: one is enough unless the counter went back again meanwhile. */
const MAX_REFERENCE_TRIES = 3;

interface Attempt {
  /** The local deadline passed before the claim was sent: nothing is sent. */
  abandoned: boolean;
  /** Given up waiting for the verdict: no confirmation may be sent any more. */
  gaveUp: boolean;
  /** When the claim's answer arrived, and the window it opened (ms): the verdict is due by their sum. */
  claimed: { at: number; windowMs: number } | null;
  /** The ledger said stored (markStored, or the first delivery's verdict): no later failure may say nothing was. */
  stored: boolean;
}

/** The only way a message enters the gateway: stored in Redis before anyone is told it was accepted. */
export class IntakeProducer {
  private readonly jobOptions: JobsOptions;

  constructor(
    readonly queue: Queue,
    private readonly references: ReferenceStore,
    private readonly codec: PayloadCodec,
    private readonly hasher: IdentifierHasher,
    private readonly opts: IntakeOptions,
    /** Confirms an acceptance only after its add was answered: a confirmed acceptance always has its job. */
    private readonly ledger: AcceptanceLedger,
    /** Counts each acceptance as it is stored (gateway_messages_accepted_total{channel}), inside the ledger's confirmation. */
    private readonly counters?: SharedCounters,
  ) {
    this.jobOptions = JOBS[QUEUES.intake].options(opts);
  }

  /**
   * Stores the message once per idempotency key (the ledger, not BullMQ's deduplication, which `clean`
   * removes with the job). The answer is the ledger's verdict, decided in Redis by Redis's clock: `stored`
   * (the add landed and was confirmed within the window a worker waits out) or `withdrawn` (503, and no worker
   * ever acts on the job). Only when no verdict reaches the API in time is 503 an answer it cannot prove.
   */
  async accept(unhashed: UnreferencedMessage, merge?: MergeWindow, timeoutMs = this.opts.enqueueTimeoutMs, join?: string): Promise<Accepted> {
    const earlier = this.earlierIds(unhashed.idempotencyKey);
    // The provider's id (a wamid encodes the sender's number) is kept only as its keyed hash (the current key's,
    // first of the candidates): in the job and the ledger.
    const message = { ...unhashed, idempotencyKey: earlier.hashes[0]! };
    const deadlineAt = Date.now() + timeoutMs;
    const attempt: Attempt = { abandoned: false, gaveUp: false, claimed: null, stored: false };
    const work = this.store(message, { merge, join }, deadlineAt, attempt, earlier);
    try {
      return await this.settled(work, timeoutMs, attempt);
    } catch (err) {
      // Stored, then the deadline passed (or the last WAIT fell short): a worker will act on it, so the 503 says so.
      if (attempt.stored && err instanceof QueueUnavailableError && !(err instanceof ReplicationUnconfirmedError)) {
        throw new ReplicationUnconfirmedError('stored, replication unconfirmed', { cause: err });
      }
      throw err;
    }
  }

  private async settled(work: Promise<Accepted>, timeoutMs: number, attempt: Attempt): Promise<Accepted> {
    try {
      return await withinDeadline(() => work, timeoutMs);
    } catch (err) {
      attempt.abandoned = true;
      const claimed = attempt.claimed;
      if (!claimed || !(err instanceof DeadlinePassedError)) {
        // Answered 503 now: a claim still in flight must never be confirmed.
        attempt.gaveUp = true;
        throw err;
      }
      // The claim was answered: its verdict decides, and it is due by the end of its window.
      const wait = Math.max(1, claimed.at + claimed.windowMs + WITHDRAW_ANSWER_MS - Date.now());
      try {
        return await withinDeadline(() => work, wait);
      } finally {
        attempt.gaveUp = true;
      }
    }
  }

  /**
   * Where an earlier delivery of the same id may be recorded: the ledger under every configured hash key
   * (a HASH_KEY or DATA_KEY change moves the current one), and BullMQ's deduplication key as versions before
   * the ledger wrote it (`<prefix>:<queue>:de:<id>`, id = sha256 of the raw key, or its keyed hash) — a
   * re-delivery inside the window after the upgrade is still a duplicate.
   */
  private earlierIds(raw: string): { hashes: string[]; legacyDedupKeys: string[] } {
    const hashes = this.hasher.deduplicationCandidates(raw);
    const dedup = (id: string) => `${this.queue.qualifiedName}:de:${id}`;
    return { hashes, legacyDedupKeys: [...new Set([sha256Hex(raw), ...hashes])].map(dedup) };
  }

  /** A reference the claim finds taken (the counter went back) is never issued: a fresh block, and claim again. */
  private async claim(message: UnreferencedMessage, into: { merge?: MergeWindow; join?: string }, deadlineAt: number, attempt: Attempt, earlier: { hashes: string[]; legacyDedupKeys: string[] }) {
    for (let tries = 1; ; tries++) {
      const own = await this.references.next();
      if (attempt.abandoned) throw new QueueUnavailableError('abandoned at the deadline');
      // The window is what is left of the deadline: a worker waits it out, so an acceptance it acts on was confirmed in it.
      const windowMs = Math.max(1, deadlineAt - Date.now());
      try {
        return await this.ledger.claim(message.idempotencyKey, own, randomUUID(), windowMs, into.merge, earlier, into.join, message.sensitive);
      } catch (err) {
        if (!(err instanceof ReferenceTakenError)) throw err;
        this.counters?.increment(REFERENCES_TAKEN_COUNTER, {});
        if (tries >= MAX_REFERENCE_TRIES) throw err;
        this.references.discardBlock();
      }
    }
  }

  private async store(message: UnreferencedMessage, into: { merge?: MergeWindow; join?: string }, deadlineAt: number, attempt: Attempt, earlier: { hashes: string[]; legacyDedupKeys: string[] }): Promise<Accepted> {
    const replicated = await this.opts.replicaAck?.begin(deadlineAt);
    const { fresh, acceptance, windowMs: left, key, legacyJobId } = await this.claim(message, into, deadlineAt, attempt, earlier);
    if (attempt.gaveUp) throw new QueueUnavailableError('answered 503 before the claim was answered');
    // An older version's job holds this message: its id names the reference; it was stored then.
    if (legacyJobId !== undefined) return confirmedOnReplicas(replicated, { reference: intakeJobId.referenceOf(legacyJobId), duplicate: true, merged: false }, attempt);
    attempt.claimed = { at: Date.now(), windowMs: left };
    const sensitive = acceptance.sensitive ?? message.sensitive;
    const accepted: Accepted = { reference: acceptance.reference, duplicate: !fresh, merged: fresh && acceptance.mergeInto !== null, followUp: acceptance.followUp, sensitive };
    if (acceptance.stored) return confirmedOnReplicas(replicated, accepted, attempt);
    // Fresh, or a repeat of an acceptance still inside its window (its first delivery may have died before its
    // add): the same job (same id, a no-op when it exists), confirmed for the acceptance the ledger holds.
    const data = this.codec.encode(
      // Under the hash its ledger entry lives under (an earlier key's, after a key change): the worker asks that entry.
      { ...message, sensitive, idempotencyKey: key, reference: acceptance.reference, mergeInto: acceptance.mergeInto, followUp: acceptance.followUp, acceptanceId: acceptance.acceptanceId } as InboundMessage,
      JOBS[QUEUES.intake].sealed,
      sealContext.job(this.queue.name),
    );
    await this.queue.add(JOBS[QUEUES.intake].name, data, { ...this.jobOptions, jobId: acceptance.jobId });
    if (attempt.gaveUp) throw new QueueUnavailableError('no verdict in time');
    // Before the confirmation: with too few replicas the acceptance is never confirmed, it lapses at its window's
    // end and is withdrawn, so this 503 is true (no worker acts on the job; a retry claims afresh). It may use half
    // of what is left: the WAIT after the confirmation keeps the other half, so a healthy replica is not cut short.
    try {
      await replicated?.(Math.floor(Date.now() + (deadlineAt - Date.now()) / 2));
    } catch (err) {
      attempt.gaveUp = true;
      throw err;
    }
    if (attempt.gaveUp) throw new QueueUnavailableError('no verdict in time');
    const countAs = this.counters?.locate(ACCEPTED_COUNTER, { channel: message.channel });
    if ((await this.ledger.markStored(key, acceptance.acceptanceId, countAs)) !== 'stored') throw new QueueUnavailableError('the acceptance was withdrawn');
    // The verdict too: a failover that kept the job but lost `stored` would have the worker withdraw a 2xx'd message.
    return confirmedOnReplicas(replicated, accepted, attempt);
  }
}
