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

export interface DestinationState {
  destination: DestinationName;
  /** healthy: its last calls succeeded; retrying: jobs for it wait to be tried again; paused: the gateway stopped calling it. */
  state: 'healthy' | 'retrying' | 'paused';
  /** Why it is paused or retrying, in the gateway's own words (a configuration fault, a status class); never payload text. */
  reason: string | null;
  /** When a pause ends (ISO 8601); null unless paused. */
  resumesAt: string | null;
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
