import type { RedisConnection } from '../queues/connection';
import type { IdentifierHasher } from '../security/identifier-hash';
import { contactKeys, type ContactKeys } from './contact-keys';
import { scanKeys } from './keys';

/** The key grouping a sender's feedback of one category within the merge window (the intake claim writes it). */
export function feedbackWindowKey(prefix: string, senderHash: string, category: string): string {
  return contactKeys(prefix).feedbackWindow(senderHash, category);
}

/** The keys that group a sender's feedback of one category within the merge window (written by the acceptance ledger's claim). */
export class FeedbackWindowStore {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: ContactKeys,
    private readonly hasher: IdentifierHasher,
  ) {}

  key(sender: string, category: string): string {
    return this.keys.feedbackWindow(this.hasher.hash(sender), category);
  }

  /** Every feedback window open under this sender hash, whatever its category. */
  async keysOf(hash: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const found of scanKeys(this.redis, this.keys.feedbackWindow(hash, '*'), { count: 1000 })) keys.push(...found);
    return keys;
  }
}
