import type { Job, Queue } from 'bullmq';
import { referenceOfDeadLetter } from '../queues/jobs';
import { maxWaitsOf } from '../queues/start-cap';
import { isNotConfirmed } from '../replies/send-once';
import type { SendClaims } from '../store/send-claims';
import { sealContext, type PayloadCodec } from '../security/payload-codec';
import { assertNarrowing, type DeadLetterFilter } from './dead-letter-filter';
import { maskPersonal } from './masking';
import type { AuditLog } from '../store/audit';
import type { TraceStore } from '../store/trace';

export type { DeadLetterFilter } from './dead-letter-filter';

/**
 * What replaying a set did: how many went back, how many were no longer dead letters, which could not be moved, and
 * which were left alone as "not confirmed" (their message may have reached the person: only a resend sends them).
 */
export interface ReplayOutcome {
  replayed: number;
  gone: number;
  failed: string[];
  notConfirmed: string[];
}

/** An action refused for what the dead letter is (a stable code and a sentence naming what to do instead). */
export class DeadLetterRefused extends Error {
  override readonly name = 'DeadLetterRefused';
  constructor(
    readonly code: 'not_confirmed' | 'not_held' | 'already_sent',
    message: string,
  ) {
    super(message);
  }
}

const HELD =
  'This message may have reached the person (not confirmed), so a replay does not send it. Check with the provider that it did not go out, then resend it with a reason.';

export interface DeadLetterSummary {
  id: string;
  queue: string;
  reference: string | null;
  error: string;
  attempts: number;
  failedAt: string | null;
  createdAt: string;
  /** Held as "not confirmed": replays skip it; an audited resend after checking sends it. */
  notConfirmed: boolean;
}

const SCAN_LIMIT = 10_000;

/** The operator's reason for a reveal or a discard, kept in the audit entry (trimmed; the routes cap its length). */
const reasonDetail = (reason: string | undefined) => (reason?.trim() ? { detail: { reason: reason.trim() } } : {});

/** `<queue>.<jobId>`: job ids never contain dots, queue names never do either. */
export const deadLetterId = (queue: string, jobId: string) => `${queue}.${jobId}`;

/**
 * The failed sets of the gateway's queues, seen as dead letters an operator can list, inspect (masked
 * unless revealed), replay, resend (a "not confirmed" one, after checking) and discard. Every action that shows or changes one is audited.
 */
export class DeadLetters {
  private readonly queues: Map<string, Queue>;

  constructor(
    queues: Queue[],
    private readonly codec: PayloadCodec,
    private readonly audit: AuditLog,
    private readonly trace: TraceStore,
    private readonly claims: SendClaims,
  ) {
    this.queues = new Map(queues.map((q) => [q.name, q]));
  }

  private summary(job: Job): DeadLetterSummary {
    const reference = referenceOfDeadLetter(job);
    return {
      id: deadLetterId(job.queueName, job.id ?? ''),
      queue: job.queueName,
      reference,
      error: job.failedReason ?? '',
      attempts: job.attemptsMade,
      failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
      createdAt: new Date(job.timestamp).toISOString(),
      notConfirmed: isNotConfirmed(job),
    };
  }

  private matches(job: Job, f: DeadLetterFilter, now: number): boolean {
    if (f.error && !(job.failedReason ?? '').toLowerCase().includes(f.error.toLowerCase())) return false;
    const ageHours = (now - (job.finishedOn ?? job.timestamp)) / 3_600_000;
    if (f.minAgeHours !== undefined && ageHours < f.minAgeHours) return false;
    if (f.maxAgeHours !== undefined && ageHours > f.maxAgeHours) return false;
    return true;
  }

  private async failedJobs(filter: DeadLetterFilter): Promise<Job[]> {
    // Every caller parses its filter (parseDeadLetterFilter); this keeps one built in code from matching everything.
    assertNarrowing(filter);
    const queues = filter.queue ? [this.queues.get(filter.queue)].filter((q): q is Queue => !!q) : [...this.queues.values()];
    const now = Date.now();
    const out: Job[] = [];
    for (const q of queues) {
      for (const job of await q.getFailed(0, SCAN_LIMIT - 1)) if (job && this.matches(job, filter, now)) out.push(job);
    }
    return out.sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0));
  }

  async list(filter: DeadLetterFilter): Promise<DeadLetterSummary[]> {
    return (await this.failedJobs(filter)).map((j) => this.summary(j));
  }

  async count(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [name, q] of this.queues) out[name] = await q.getFailedCount();
    return out;
  }

  private async find(id: string): Promise<Job | null> {
    const dot = id.indexOf('.');
    const queue = this.queues.get(id.slice(0, dot));
    if (dot < 1 || !queue) return null;
    const job = await queue.getJob(id.slice(dot + 1));
    return job && (await job.isFailed()) ? job : null;
  }

  /** The dead letter with its payload: personal fields masked, unless `reveal`, which is audited with the operator's reason. */
  async show(id: string, actor: string, reveal: boolean, reason?: string): Promise<(DeadLetterSummary & { data: Record<string, unknown> }) | null> {
    const job = await this.find(id);
    if (!job) return null;
    const decoded = this.codec.decode(job.data, sealContext.job(job.queueName));
    const data = reveal ? decoded : maskPersonal(decoded);
    if (reveal) await this.audit.record({ actor, action: 'dead_letter.reveal', target: id, ...reasonDetail(reason) });
    return { ...this.summary(job), data };
  }

  async replay(id: string, actor: string): Promise<DeadLetterSummary | null> {
    const summary = await this.moveBack(id, actor);
    if (summary === 'not_confirmed') throw new DeadLetterRefused('not_confirmed', HELD);
    if (summary) await this.traceReplay(summary, actor);
    return summary;
  }

  /**
   * Sends a "not confirmed" message again, on an operator's word that they checked it did not go out (the reason is
   * audited): its job's claim is given back and the job replayed. Refused for any other dead letter (replay it), and
   * when the claim says the provider took it; null when it stopped being a dead letter meanwhile (a second resend).
   */
  async resend(id: string, actor: string, reason: string): Promise<DeadLetterSummary | null> {
    const job = await this.find(id);
    if (!job) return null;
    if (!isNotConfirmed(job)) throw new DeadLetterRefused('not_held', 'This dead letter is not held as "not confirmed": replay it instead.');
    const given = await this.claims.giveBack(job);
    if (given === 'not-dead') return null;
    if (given === 'sent') throw new DeadLetterRefused('already_sent', 'The provider took this message: it is not sent again.');
    const summary = this.summary(job);
    // The operator's word that they checked is written before the message can go out: a resend nobody is on record
    // for is the one thing this must never leave. The claim given back above sends nothing by itself (the job stays a
    // dead letter held "not confirmed", which only this audited path moves). If the retry fails now, the entry stays,
    // followed by one saying it was not done: an audited intent with no resend is the safe side.
    await this.audit.record({ actor, action: 'dead_letter.resend', target: id, ...reasonDetail(reason) });
    await this.retryRecorded(job, actor, 'dead_letter.resend', id);
    if (summary.reference) await this.trace.record(summary.reference, 'resent', { queue: summary.queue, by: actor });
    return summary;
  }

  /**
   * Moves a dead letter back to its queue, audited first; null when it is no longer one (replayed or discarded
   * meanwhile). A replayed job can send (an acknowledgement, a flow start): as for a resend, the entry is written
   * before the move, and stays if the move then fails, followed by one saying it was not done.
   */
  private async moveBack(id: string, actor: string): Promise<DeadLetterSummary | 'not_confirmed' | null> {
    const job = await this.find(id);
    if (!job) return null;
    if (isNotConfirmed(job)) return 'not_confirmed';
    const summary = this.summary(job);
    await this.audit.record({ actor, action: 'dead_letter.replay', target: summary.id });
    await this.retryRecorded(job, actor, 'dead_letter.replay', summary.id);
    return summary;
  }

  /**
   * Moves the job back with fresh attempts (and starts, where its worker caps them), its intent already audited. A failed
   * move (another operator discarded it, say) gets a second entry: not done, or unconfirmed if the job moved anyway.
   */
  private async retryRecorded(job: Job, actor: string, intent: 'dead_letter.replay' | 'dead_letter.resend', target: string): Promise<void> {
    try {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: maxWaitsOf(job.queueName) !== undefined });
    } catch (err) {
      // BullMQ's refusal (its script's code: no longer failed, gone) moved nothing; after a lost reply it may have moved.
      const action = `${intent}_${typeof (err as { code?: unknown } | null)?.code === 'number' ? 'not_done' : 'unconfirmed'}`;
      await this.audit.record({ actor, action, target }).catch(() => undefined);
      throw err;
    }
  }

  private async traceReplay(summary: DeadLetterSummary, actor: string): Promise<void> {
    if (summary.reference) await this.trace.record(summary.reference, 'replayed', { queue: summary.queue, by: actor });
  }

  /** Replays every dead letter the filter matches; with `dryRun`, only says which it would replay. */
  async replayMatching(filter: DeadLetterFilter, actor: string, dryRun: boolean): Promise<{ dryRun: boolean; matched: DeadLetterSummary[]; outcome: ReplayOutcome | null }> {
    const jobs = await this.failedJobs(filter);
    const matched = jobs.map((j) => this.summary(j));
    const outcome = dryRun ? null : await this.replayIds(matched.map((s) => s.id), actor, filter);
    return { dryRun, matched, outcome };
  }

  /**
   * Replays the dead letters named, those still dead (one replayed or discarded meanwhile is skipped), audited as one
   * entry per id (written before it moves) and one for the set. One that fails to move back, or whose own audit
   * entry cannot be written, is named in `failed` and the rest go on; `settled` hears of each one replayed or gone,
   * so a caller can run the set again for the failed ones only.
   */
  async replayIds(ids: readonly string[], actor: string, filter: DeadLetterFilter, settled: (id: string) => Promise<void> = async () => undefined): Promise<ReplayOutcome> {
    const outcome: ReplayOutcome = { replayed: 0, gone: 0, failed: [], notConfirmed: [] };
    for (const id of ids) {
      let summary: DeadLetterSummary | 'not_confirmed' | null;
      try {
        summary = await this.moveBack(id, actor);
      } catch {
        outcome.failed.push(id);
        continue;
      }
      if (summary === 'not_confirmed') outcome.notConfirmed.push(id);
      else if (summary) {
        outcome.replayed += 1;
        await this.traceReplay(summary, actor);
      } else outcome.gone += 1;
      await settled(id);
    }
    await this.audit.record({ actor, action: 'dead_letter.replay_matching', target: JSON.stringify(filter), detail: { count: outcome.replayed, counted: ids.length, gone: outcome.gone, failed: outcome.failed.length, not_confirmed: outcome.notConfirmed.length } });
    return outcome;
  }

  async discard(id: string, actor: string, reason?: string): Promise<DeadLetterSummary | null> {
    const job = await this.find(id);
    if (!job) return null;
    const summary = this.summary(job);
    await job.remove();
    await this.audit.record({ actor, action: 'dead_letter.discard', target: id, ...reasonDetail(reason) });
    if (summary.reference) await this.trace.record(summary.reference, 'discarded', { queue: summary.queue, by: actor });
    return summary;
  }
}
