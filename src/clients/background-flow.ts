/** How long a background flow is trusted before its type is read again (an operator may re-import it). */
const FLOW_TYPE_TTL_MS = 3_600_000;

export type BackgroundVerdict = { ok: true } | { ok: false; type: string | null };

/**
 * mailroom starts a flow that is not `background` in interrupt mode, ending whatever run the person is in
 * (nyaruka/mailroom core/tasks/start_flow_batch.go). Whether a configured flow is background, read through
 * `readType` (RapidPro's flows API) and cached only while it is, so a re-imported flow is picked up at the next try.
 */
export function backgroundFlowCheck(readType: () => Promise<string | null>): () => Promise<BackgroundVerdict> {
  let backgroundSince: number | null = null;
  return async () => {
    if (backgroundSince !== null && Date.now() - backgroundSince < FLOW_TYPE_TTL_MS) return { ok: true };
    const type = await readType();
    if (type === 'background') {
      backgroundSince = Date.now();
      return { ok: true };
    }
    backgroundSince = null;
    return { ok: false, type };
  };
}
