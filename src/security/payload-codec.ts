import { canonicalJson } from '../domain/idempotency';
import type { Sealer } from './sealing';
import { isSealed } from './sealing';

/** What a payload's seal authenticates besides its context: every plain field, so none can be changed or swapped. */
const plainFields = (open: Record<string, unknown>) => canonicalJson(open);

/**
 * What a job or record stores: the fields an operator needs to find and route it stay readable, the
 * personal ones are sealed under `sealed` when DATA_KEY is set. Without a key the payload is stored as is.
 * Every call names the context the value belongs to (see `sealContext`); it is bound into the seal.
 */
export class PayloadCodec {
  constructor(private readonly sealer: Sealer | null) {}

  get encrypts(): boolean {
    return this.sealer !== null;
  }

  encode<T extends Record<string, unknown>>(value: T, personal: ReadonlyArray<keyof T>, context: string): Record<string, unknown> {
    if (!this.sealer) return value;
    const open: Record<string, unknown> = {};
    const hidden: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) (personal.includes(k as keyof T) ? hidden : open)[k] = v;
    return { ...open, sealed: this.sealer.seal(hidden, context, plainFields(open)) };
  }

  decode(stored: unknown, context: string): Record<string, unknown> {
    if (!stored || typeof stored !== 'object') return {};
    const { sealed, ...open } = stored as Record<string, unknown>;
    if (!isSealed(sealed)) return stored as Record<string, unknown>;
    if (!this.sealer) throw new Error('this payload is encrypted and DATA_KEY is not set');
    return { ...open, ...(this.sealer.open(sealed, context, plainFields(open)) as Record<string, unknown>) };
  }

  /** A single sealed string (or the plain value when not encrypting). */
  sealValue(value: string, context: string): string {
    return this.sealer ? this.sealer.seal(value, context) : value;
  }

  openValue(stored: string, context: string): string {
    if (!isSealed(stored)) return stored;
    if (!this.sealer) throw new Error('this value is encrypted and DATA_KEY is not set');
    return String(this.sealer.open(stored, context));
  }

  /**
   * For `reseal`: the stored form under the current key and format, or null when it already is (or nothing
   * is sealed). Throws when the value cannot be opened.
   */
  resealPayload(stored: unknown, context: string, changes: Record<string, unknown> = {}): Record<string, unknown> | null {
    if (!this.sealer || !stored || typeof stored !== 'object') return null;
    const { sealed, ...open } = stored as Record<string, unknown>;
    if (!isSealed(sealed)) return Object.keys(changes).length ? { ...open, ...changes } : null;
    if (this.sealer.isCurrent(sealed, true) && !Object.keys(changes).length) return null;
    // Changed plain fields are bound into the new seal: the one place a sealed job's plain fields may change.
    const hidden = this.sealer.open(sealed, context, plainFields(open));
    const next = { ...open, ...changes };
    return { ...next, sealed: this.sealer.seal(hidden, context, plainFields(next)) };
  }

  resealValue(stored: string, context: string): string | null {
    if (!this.sealer || !isSealed(stored) || this.sealer.isCurrent(stored)) return null;
    return this.sealer.seal(this.sealer.open(stored, context), context);
  }
}

/** Where a sealed value lives: bound into its seal, so it opens only there. */
export const sealContext = {
  job: (queueName: string) => `job:${queueName}`,
  referenceUrn: (reference: string) => `ref-urn:${reference}`,
  referenceContact: (reference: string) => `ref-contact:${reference}`,
  pushSubscription: (user: string, endpointHash: string) => `push:${user}:${endpointHash}`,
  // Not bound to its hash field: reseal moves the value to a new field when the hash key changes.
  optOutUrn: () => 'optout-urn',
};

/** The envelope fields that are personal data: sealed at rest, masked in the admin API, never logged. */
export const PERSONAL_MESSAGE_FIELDS = ['urn', 'contactUuid', 'text', 'attachments', 'results'] as const;
