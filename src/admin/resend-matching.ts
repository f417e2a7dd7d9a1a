import { DeadLetterRefused, type DeadLetterFilter, type DeadLetterSummary, type DeadLetters } from './dead-letters';

export interface ResendOutcome {
  /** Ids resent: their claim given back and their job replayed. */
  resent: string[];
  /** No longer dead letters when their turn came (resent or discarded meanwhile). */
  gone: string[];
  /** Refused for what the letter is (the provider took it): never sent again. */
  refused: string[];
  /** Could not be resent (Redis away): the same command again retries them. */
  failed: string[];
}

/**
 * Resends every "not confirmed" dead letter of one queue the filter matches, on an operator's word that they
 * checked none went out (after a provider's restart, when its load balancer answered 502 for a while): each goes
 * through `resend`, so each is checked, given back and audited with the reason on its own. With `dryRun`, only says
 * which it would resend.
 */
export async function resendMatching(
  deadLetters: DeadLetters,
  filter: DeadLetterFilter & { queue: string },
  actor: string,
  reason: string,
  dryRun: boolean,
): Promise<{ dryRun: boolean; matched: DeadLetterSummary[]; outcome: ResendOutcome | null }> {
  const matched = (await deadLetters.list(filter)).filter((s) => s.notConfirmed);
  if (dryRun) return { dryRun, matched, outcome: null };
  const outcome: ResendOutcome = { resent: [], gone: [], refused: [], failed: [] };
  for (const { id } of matched) {
    try {
      (await deadLetters.resend(id, actor, reason) ? outcome.resent : outcome.gone).push(id);
    } catch (err) {
      (err instanceof DeadLetterRefused ? outcome.refused : outcome.failed).push(id);
    }
  }
  return { dryRun, matched, outcome };
}
