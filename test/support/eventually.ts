import type { Queue } from 'bullmq';

type Pending = undefined | null | false;

/**
 * How `eventually` judges a check: by default a value other than undefined, null or false is the answer (0 and ''
 * count) and a check that throws is tried again; `strict` takes only a truthy value and fails at once on a throw.
 */
export interface PollOptions {
  strict?: boolean;
  intervalMs?: number;
}

/**
 * Polls until `check` returns a value (not undefined, null or false) or the time is up; a check that throws is
 * tried again (see PollOptions for the strict form). The one polling helper of every suite, chaos included.
 */
export async function eventually<T>(check: () => Promise<T | Pending> | T | Pending, timeoutMs = 10000, what?: string, options: PollOptions = {}): Promise<T> {
  const until = Date.now() + timeoutMs;
  const { strict = false, intervalMs = 25 } = options;
  let last: unknown;
  for (;;) {
    if (strict) {
      const v = await check();
      if (v) return v;
    } else {
      try {
        const v = await check();
        if (v !== undefined && v !== null && v !== false) return v as T;
      } catch (err) {
        last = err;
      }
    }
    if (Date.now() > until) throw new Error(`${what ? `timed out waiting for ${what}` : `condition not met in ${timeoutMs} ms`}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const UNFINISHED = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * Waits until none of `queues` has a job waiting, delayed or running, twice in a row: "nothing else happened" is
 * read from drained queues, not from a fixed sleep. Give upstream queues first (intake before push), so a job
 * handed on between two reads is still seen.
 */
export async function untilDrained(queues: Queue | Queue[], timeoutMs = 10000): Promise<void> {
  const all = Array.isArray(queues) ? queues : [queues];
  let calm = 0;
  await eventually(
    async () => {
      let idle = true;
      for (const queue of all) {
        const counts = await queue.getJobCounts(...UNFINISHED);
        if (Object.values(counts).some((n) => n > 0)) idle = false;
      }
      calm = idle ? calm + 1 : 0;
      return calm >= 2;
    },
    timeoutMs,
    `${all.map((q) => q.name).join(', ')} to drain`,
  );
}
