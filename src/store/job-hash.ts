import type { Job } from 'bullmq';

/** BullMQ's key of the job's hash: `<prefix>:<queue>:<id>`. Fields the gateway keeps there are named `gw:…`. */
export const jobKey = (job: Pick<Job, 'queueQualifiedName' | 'id'>): string => `${job.queueQualifiedName}:${job.id}`;
