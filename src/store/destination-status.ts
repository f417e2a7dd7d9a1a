import type { RedisConnection } from '../queues/connection';
import type { DestinationName, PauseCause } from '../admin/overview-types';
import { QUEUES, type QueueName } from '../queues/names';
import { gatewayKey } from './keys';

/** The queues whose jobs call each destination: a pause of any of them is a pause of the destination. */
export const DESTINATION_QUEUES: Readonly<Record<DestinationName, readonly QueueName[]>> = {
  primero: [QUEUES.intake, QUEUES.primeroEvents, QUEUES.primeroPoll],
  rapidpro: [QUEUES.rapidproNotify, QUEUES.caseworkerMessagesRapidpro],
  push: [QUEUES.push],
  whatsapp: [QUEUES.whatsappReplies, QUEUES.caseworkerMessagesWhatsapp],
};

export function destinationOf(queue: string): DestinationName | null {
  for (const [destination, queues] of Object.entries(DESTINATION_QUEUES)) if ((queues as readonly string[]).includes(queue)) return destination as DestinationName;
  return null;
}

/** Why a queue was paused: the gateway's own fixed words, and whether a person must fix something. */
export interface PauseNote {
  reason: string;
  cause: PauseCause;
}

/** A queue the gateway has stopped taking jobs from, and for how much longer. */
export interface QueuePauseRecord extends PauseNote {
  /** What is left of the pause (the key's TTL): the reader adds it to its own now, so no two clocks mix. */
  remainingMs: number;
}

/** What the store needs of a connection: a queue's own (Redis or Cluster) is enough. */
export type PauseConnection = Pick<RedisConnection, 'eval' | 'set'>;

// Each key's value and its remaining ms, in one round trip.
const READ = `
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = {redis.call('GET', key) or '', redis.call('PTTL', key)}
end
return out
`;

/**
 * The pause of each queue: `gw:destination-paused:<queue>` (a JSON `{reason, cause, until}`; `until` is for a person
 * reading Redis, the overview reads the TTL), written when a worker pauses that queue, with PX = exactly that pause.
 * BullMQ keeps one limiter per queue and each pause replaces the last, so each record replaces the last too: the
 * record and the limiter end together. Deleted by its TTL only. Reasons are the gateway's own words, never upstream text.
 */
export class DestinationStatusStore {
  constructor(
    private readonly redis: PauseConnection,
    private readonly prefix: string,
  ) {}

  private key(queue: string): string {
    return gatewayKey(this.prefix, 'destination-paused', queue);
  }

  async recordPause(queue: string, note: PauseNote, pauseMs: number): Promise<void> {
    const ms = Math.max(1, Math.round(pauseMs));
    const value = JSON.stringify({ reason: note.reason, cause: note.cause, until: Date.now() + ms });
    await this.redis.set(this.key(queue), value, 'PX', ms);
  }

  /** The pauses in force, by queue (a queue absent is not paused). */
  async pauses(queues: readonly string[]): Promise<Map<string, QueuePauseRecord>> {
    const found = new Map<string, QueuePauseRecord>();
    if (queues.length === 0) return found;
    const rows = (await this.redis.eval(READ, queues.length, ...queues.map((q) => this.key(q)))) as Array<[string, number]>;
    rows.forEach(([value, ttl], i) => {
      if (value && ttl > 0) found.set(queues[i]!, { ...noteIn(value), remainingMs: ttl });
    });
    return found;
  }
}

function noteIn(value: string): PauseNote {
  try {
    const parsed = JSON.parse(value) as { reason?: unknown; cause?: unknown };
    return { reason: typeof parsed.reason === 'string' ? parsed.reason : 'paused', cause: parsed.cause === 'retry_after' ? 'retry_after' : 'configuration' };
  } catch {
    return { reason: 'paused', cause: 'configuration' };
  }
}
