import { JOBS, type JobEntry } from './jobs';

/** A queue's cap on starts beyond attempts (its catalogue entry's `maxWaits`), if its worker caps them. */
export const maxWaitsOf = (queue: string): number | undefined => (JOBS as Record<string, JobEntry>)[queue]?.maxWaits;
