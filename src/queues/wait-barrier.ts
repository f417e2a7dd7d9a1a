import type { Redis } from 'ioredis';
import { QueueUnavailableError } from './deadline';

/** How long a count of online replicas (INFO replication, or a WAIT that fell short with the full configured timeout) is trusted. */
const REPLICAS_SEEN_MS = 100;

/**
 * One WAIT in flight per connection: Redis reads nothing else from a client blocked in WAIT, so WAITs sent one after
 * another would hold every command on the connection (readiness, other acceptances) for their sum. A request whose
 * writes were answered joins the next WAIT; the one in flight may have been sent before them. That WAIT, sent after
 * a marker write on the same connection, covers every write its joiners made. Its timeout is the configured one or
 * the latest joiner's remaining deadline if less (each joiner still gives up at its own deadline).
 */
export class WaitBarrier {
  private running: Promise<number> | null = null;
  private queued: { deadlineAt: number; result: Promise<number> } | null = null;
  private seen: { at: number; replicas: number } | null = null;
  private asking: Promise<number> | null = null;

  constructor(
    private readonly node: Redis,
    private readonly marker: string,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {}

  /** The replicas that acknowledged every write this connection had made when the call was made. */
  acknowledged(deadlineAt: number): Promise<number> {
    if (!this.running) return this.send(deadlineAt);
    if (this.queued) {
      this.queued.deadlineAt = Math.max(this.queued.deadlineAt, deadlineAt);
      return this.queued.result;
    }
    const batch = { deadlineAt, result: Promise.resolve(0) };
    batch.result = this.running.then(
      () => this.next(batch),
      () => this.next(batch),
    );
    this.queued = batch;
    return batch.result;
  }

  /** Replicas online as last seen (INFO replication, at most every 100 ms); a WAIT that fell short with the full timeout counts as seen. */
  async online(): Promise<number> {
    if (this.seen && Date.now() - this.seen.at < REPLICAS_SEEN_MS) return this.seen.replicas;
    this.asking ??= this.node
      .info('replication')
      .then((info) => {
        const replicas = (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
        this.seen = { at: Date.now(), replicas };
        return replicas;
      })
      .finally(() => {
        this.asking = null;
      });
    return this.asking;
  }

  private next(batch: { deadlineAt: number }): Promise<number> {
    this.queued = null;
    // Replicas seen missing a moment ago: answer now rather than hold the connection for another full timeout.
    if (this.seen && Date.now() - this.seen.at < REPLICAS_SEEN_MS && this.seen.replicas < this.replicas) return Promise.resolve(this.seen.replicas);
    return this.send(batch.deadlineAt);
  }

  private send(deadlineAt: number): Promise<number> {
    // Whole ms: WAIT refuses a fractional timeout.
    const within = Math.max(1, Math.floor(Math.min(this.timeoutMs, deadlineAt - Date.now())));
    const asked = Promise.all([this.node.set(this.marker, '1', 'EX', MARKER_SECONDS), this.node.wait(this.replicas, within)]);
    const sent = unlessSilent(asked, within + SILENT_WAIT_MARGIN_MS).then(([, acknowledged]) => {
      // Only a WAIT that had the full configured timeout says replicas are missing: one cut short by its own
      // request's deadline says nothing about them, and must not refuse everyone else.
      if (acknowledged < this.replicas && within === this.timeoutMs) this.seen = { at: Date.now(), replicas: acknowledged };
      return acknowledged;
    });
    this.running = sent;
    const settled = () => {
      if (this.running === sent) this.running = null;
    };
    sent.then(settled, settled);
    return sent;
  }
}

/** The marker is one key per prefix, rewritten (and so replicated) before each WAIT; kept an hour after the last. */
const MARKER_SECONDS = 3600;

/**
 * Redis answers a WAIT by its timeout; past it by this much the connection is taken as dead (a half-open socket after
 * a host crash answers nothing for minutes): those waiting get 503 and the next WAIT is not held behind it.
 */
const SILENT_WAIT_MARGIN_MS = 1000;

function unlessSilent<T>(asked: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailableError('the WAIT was not answered: replication not confirmed')), ms);
  });
  return Promise.race([asked, silent]).finally(() => clearTimeout(timer));
}
