/**
 * What an operator sees at a glance: counts and states only, never a person's data. Read by the console's
 * overview, `GET /admin/overview` and `npm run admin -- overview` from one OverviewReader.
 */
export interface QueueBacklog {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  /** Dead letters of this queue. */
  failed: number;
  /** Seconds the oldest waiting or delayed job has waited; null when none waits. */
  oldestAgeSeconds: number | null;
}

export type DestinationName = 'primero' | 'rapidpro' | 'push' | 'whatsapp';

/** configuration: a person must fix a setting or a credential; retry_after: the destination asked the gateway to wait. */
export type PauseCause = 'configuration' | 'retry_after';

/** One paused queue of a destination (BullMQ pauses queues, not destinations). */
export interface QueuePause {
  queue: string;
  cause: PauseCause;
  reason: string;
  /** When this queue's pause ends (ISO 8601). */
  resumesAt: string;
}

export interface DestinationState {
  destination: DestinationName;
  /** healthy: its last calls succeeded; retrying: jobs for it wait to be tried again; paused: the gateway stopped calling it. */
  state: 'healthy' | 'retrying' | 'paused';
  /** Why it is paused or retrying, in the gateway's own words (a configuration fault, a status class); never payload text. */
  reason: string | null;
  /** When the last of its paused queues resumes (ISO 8601); null unless paused. */
  resumesAt: string | null;
  /** The cause of the pause `reason` names (a configuration fault before a Retry-After); null unless paused. */
  cause: PauseCause | null;
  /** Each paused queue of the destination, configuration faults first; empty unless paused. */
  pauses: QueuePause[];
}

export interface Overview {
  generatedAt: string;
  /** Inbound messages accepted (2xx, stored) since the counters began, across every API process. */
  messagesReceived: number;
  /** Records the gateway created in Primero, across every worker process. */
  casesCreated: number;
  deadLetters: { count: number; oldestFailedAt: string | null };
  queues: QueueBacklog[];
  destinations: DestinationState[];
}

export interface OverviewReader {
  read(): Promise<Overview>;
}
