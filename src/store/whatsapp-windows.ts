import type { RedisConnection } from '../queues/connection';
import type { IdentifierHasher } from '../security/identifier-hash';
import { contactKeys, type ContactKeys } from './contact-keys';

/** Meta's customer-service window: free-form messages are allowed this long after the person's last message. */
export const WHATSAPP_WINDOW_MS = 24 * 3600_000;
/**
 * The window is closed this much earlier than Meta closes it: a send queued near the end still reaches Meta
 * inside it (the rate limit, a retry's backoff, clocks that disagree). Sending the template a little early
 * costs the caseworker's words one more round trip; sending text a little late costs a refusal (131047).
 */
export const WHATSAPP_WINDOW_MARGIN_MS = 30 * 60_000;

/** Sets the key unless it already outlives the new TTL: a late re-delivery of an older message never shortens it. */
const EXTEND = `local ttl = redis.call('PTTL', KEYS[1]) if ttl < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) return 1 end return 0`;

/**
 * `gw:wa-window:<keyed hash of the whatsapp: URN>` exists while the person's 24-hour window is open (minus the
 * margin). Written at every inbound WhatsApp message with the TTL left from the message's own time; nobody
 * deletes it but its TTL, a send that Meta refuses as outside the window (131047), and forget (ContactStore.forgetKeys). It holds no number and
 * no content: only that someone with this hash wrote within the last day. A process dying right after the write
 * leaves a correct key; dying before it leaves the window closed, so the template goes out instead (never text
 * Meta would refuse).
 */
export class WhatsAppWindowStore {
  private readonly keys: ContactKeys;

  constructor(
    private readonly redis: RedisConnection,
    prefix: string,
    private readonly hasher: IdentifierHasher,
  ) {
    this.keys = contactKeys(prefix);
  }

  private key(hash: string): string {
    return this.keys.whatsappWindow(hash);
  }

  /** The person behind `urn` wrote at `sentAt`: their window is open until 24 hours later, less the margin. */
  async open(urn: string, sentAt: Date, now: number = Date.now()): Promise<void> {
    const ttl = sentAt.getTime() + WHATSAPP_WINDOW_MS - WHATSAPP_WINDOW_MARGIN_MS - now;
    if (ttl <= 0) return;
    await this.redis.eval(EXTEND, 1, this.key(this.hasher.hash(urn)), Math.ceil(ttl));
  }

  /** Whether a free-form message to `urn` is inside the window (under the current hash key or a previous one). */
  async isOpen(urn: string): Promise<boolean> {
    const keys = this.hasher.candidates(urn).map((h) => this.key(h));
    return (await this.redis.exists(...keys)) > 0;
  }

  /** Meta said the window is closed: believe it, so the next message goes out as the template straight away. */
  async close(urn: string): Promise<void> {
    await this.redis.del(...this.hasher.candidates(urn).map((h) => this.key(h)));
  }
}
