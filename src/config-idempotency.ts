/** How long the idempotency ledger remembers a delivery, where a provider's retries outlast the default. */

type LedgerSettings = { IDEMPOTENCY_WINDOW_HOURS: number; WHATSAPP_APP_SECRET?: string | undefined };

/**
 * Meta re-delivers a WhatsApp webhook that was not answered 200 "for up to 7 days with exponential backoff"
 * (docs.360dialog.com/partner/messaging/receiving-messages-via-webhook, a Meta solution partner documenting the Cloud
 * API). A batch [m1, m2] answered 503 after m1 was stored comes back whole; after the ledger forgot m1 it would be a
 * second case. So the window covers Meta's retries when WhatsApp is on, with a day to spare (the 7 days run from the
 * first failed delivery, which may come after the message was first stored).
 */
export const WHATSAPP_RETRY_HOURS = 8 * 24;

/**
 * WHATSAPP_APP_SECRET is what turns on POST /webhooks/whatsapp (WHATSAPP_VERIFY_TOKEN alone only answers the
 * handshake, which carries no message), so it decides the default; a window the operator set is kept as set.
 */
export function withWhatsAppRetryWindow<T extends LedgerSettings>(c: T, env: NodeJS.ProcessEnv): T {
  if (env.IDEMPOTENCY_WINDOW_HOURS !== undefined || !c.WHATSAPP_APP_SECRET) return c;
  return { ...c, IDEMPOTENCY_WINDOW_HOURS: WHATSAPP_RETRY_HOURS };
}

/** Said at start, not refused: a shorter window is a choice (less Redis), but it can make a WhatsApp retry a second case. */
export function idempotencyWindowWarning(c: LedgerSettings): string | null {
  if (!c.WHATSAPP_APP_SECRET || c.IDEMPOTENCY_WINDOW_HOURS >= WHATSAPP_RETRY_HOURS) return null;
  return `IDEMPOTENCY_WINDOW_HOURS is ${c.IDEMPOTENCY_WINDOW_HOURS}, below ${WHATSAPP_RETRY_HOURS}: Meta retries a failed WhatsApp webhook for up to 7 days (8 leaves a day to spare), and a message of a batch re-delivered after the window becomes a second case (leave it unset for ${WHATSAPP_RETRY_HOURS})`;
}
