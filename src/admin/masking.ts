import { CHANNEL_PERSONAL_FIELDS } from '../channels/index';
import { JOBS, type JobEntry } from '../queues/jobs';

/** Every field any queue's catalogue entry seals (a message's envelope fields are the intake entry's). */
const SEALED_FIELDS: readonly string[] = Object.values(JOBS as Record<string, JobEntry>).flatMap((entry) => entry.sealed);

/**
 * Fields that hold a person's data in any gateway payload, read from where they are declared: every field
 * the job catalogue seals (so a sealed field is never shown unmasked), every channel's personal fields
 * (replies, kept messages), a notification's URNs, the sealed blob itself, and a record look's safe-to-contact
 * answers (`safe`: a "not safe" says someone else may hold the phone).
 */
export const PERSONAL_FIELDS: ReadonlySet<string> = new Set<string>([...SEALED_FIELDS, ...CHANNEL_PERSONAL_FIELDS, 'urns', 'sealed', 'safe']);

/** What the gateway now stores as a provider's id: an HMAC-SHA256, hex. */
const KEYED_HASH = /^[0-9a-f]{64}$/;

function mask(value: unknown): unknown {
  if (typeof value === 'string') return `[masked: ${value.length} characters]`;
  if (Array.isArray(value)) return `[masked: ${value.length} items]`;
  if (value && typeof value === 'object') return `[masked: ${Object.keys(value).length} fields]`;
  return value === null || value === undefined ? value : '[masked]';
}

/** A job queued before provider ids were hashed still holds the raw one (a wamid encodes a phone number). */
const isPersonal = (field: string, value: unknown) => PERSONAL_FIELDS.has(field) || (field === 'idempotencyKey' && !(typeof value === 'string' && KEYED_HASH.test(value)));

/** A payload as an operator may see it without revealing: routing fields shown, personal ones described. */
export function maskPersonal(payload: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, isPersonal(k, v) ? mask(v) : v]));
}
