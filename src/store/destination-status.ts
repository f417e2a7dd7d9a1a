import type { Redis } from 'ioredis';
import type { DestinationName } from '../admin/overview-types';
import { QUEUES, type QueueName } from '../queues/names';
import { gatewayKey } from './keys';

/** The queues whose jobs call each destination: a pause of any of them is a pause of the destination. */
export const DESTINATION_QUEUES: Readonly<Record<DestinationName, readonly QueueName[]>> = {
  primero: [QUEUES.intake, QUEUES.primeroEvents, QUEUES.primeroPoll],
  rapidpro: [QUEUES.rapidproNotify],
  push: [QUEUES.push],
  whatsapp: [QUEUES.whatsappReplies],
};

export function destinationOf(queue: string): DestinationName | null {
  for (const [destination, queues] of Object.entries(DESTINATION_QUEUES)) if ((queues as readonly string[]).includes(queue)) return destination as DestinationName;
  return null;
}

/** A destination the gateway has stopped calling: its own fixed words for why, and for how much longer. */
export interface DestinationPause {
  reason: string;
  /** What is left of the pause (the key's TTL): the reader adds it to its own now, so no two clocks mix. */
  remainingMs: number;
}

/** What the store needs of a connection: a queue's own (Redis or Cluster) is enough. */
export type PauseConnection = Pick<Redis, 'eval'>;

// The longer pause wins: a short Retry-After on one queue must not hide a credentials pause of another.
const RECORD = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
`;

// Each key's value and its remaining ms, in one round trip.
const READ = `
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = {redis.call('GET', key) or '', redis.call('PTTL', key)}
end
return out
`;

/**
 * The pauses of each destination: `gw:destination-paused:<destination>` (a JSON `{reason, until}`; `until` is for a
 * person reading Redis, the overview reads the TTL), written when a worker pauses a queue of that destination,
 * with PX = the pause. Deleted by its TTL only: a pause read while the key lives is a pause in force. Reasons are the gateway's own fixed words, never upstream text.
 */
export class DestinationStatusStore {
  constructor(
    private readonly redis: PauseConnection,
    private readonly prefix: string,
  ) {}

  private key(destination: DestinationName): string {
    return gatewayKey(this.prefix, 'destination-paused', destination);
  }

  async recordPause(destination: DestinationName, reason: string, pauseMs: number): Promise<void> {
    const ms = Math.max(1, Math.round(pauseMs));
    await this.redis.eval(RECORD, 1, this.key(destination), JSON.stringify({ reason, until: Date.now() + ms }), ms);
  }

  /** The pauses in force, by destination (a destination absent is not paused). */
  async pauses(destinations: readonly DestinationName[]): Promise<Map<DestinationName, DestinationPause>> {
    const found = new Map<DestinationName, DestinationPause>();
    if (destinations.length === 0) return found;
    const rows = (await this.redis.eval(READ, destinations.length, ...destinations.map((d) => this.key(d)))) as Array<[string, number]>;
    rows.forEach(([value, ttl], i) => {
      if (value && ttl > 0) found.set(destinations[i]!, { reason: reasonIn(value), remainingMs: ttl });
    });
    return found;
  }
}

function reasonIn(value: string): string {
  try {
    const parsed = JSON.parse(value) as { reason?: unknown };
    return typeof parsed.reason === 'string' ? parsed.reason : 'paused';
  } catch {
    return 'paused';
  }
}
