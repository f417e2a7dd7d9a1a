import type { Sealer } from './sealing';
import { isSealed } from './sealing';

/**
 * What a job or record stores: the fields an operator needs to find and route it stay readable, the
 * personal ones are sealed under `sealed` when DATA_KEY is set. Without a key the payload is stored as is.
 */
export class PayloadCodec {
  constructor(private readonly sealer: Sealer | null) {}

  get encrypts(): boolean {
    return this.sealer !== null;
  }

  encode<T extends Record<string, unknown>>(value: T, personal: ReadonlyArray<keyof T>): Record<string, unknown> {
    if (!this.sealer) return value;
    const open: Record<string, unknown> = {};
    const hidden: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) (personal.includes(k as keyof T) ? hidden : open)[k] = v;
    return { ...open, sealed: this.sealer.seal(hidden) };
  }

  decode(stored: unknown): Record<string, unknown> {
    if (!stored || typeof stored !== 'object') return {};
    const { sealed, ...open } = stored as Record<string, unknown>;
    if (!isSealed(sealed)) return stored as Record<string, unknown>;
    if (!this.sealer) throw new Error('this payload is encrypted and DATA_KEY is not set');
    return { ...open, ...(this.sealer.open(sealed) as Record<string, unknown>) };
  }

  /** A single sealed string (or the plain value when not encrypting). */
  sealValue(value: string): string {
    return this.sealer ? this.sealer.seal(value) : value;
  }

  openValue(stored: string): string {
    if (!isSealed(stored)) return stored;
    if (!this.sealer) throw new Error('this value is encrypted and DATA_KEY is not set');
    return String(this.sealer.open(stored));
  }
}

/** The envelope fields that are personal data: sealed at rest, masked in the admin API, never logged. */
export const PERSONAL_MESSAGE_FIELDS = ['urn', 'contactUuid', 'text', 'attachments', 'results'] as const;
