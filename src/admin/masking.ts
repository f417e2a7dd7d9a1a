import { PERSONAL_MESSAGE_FIELDS } from '../security/payload-codec';

/** Fields that hold a person's data in any gateway payload (messages, replies, notifications). */
export const PERSONAL_FIELDS: ReadonlySet<string> = new Set<string>([...PERSONAL_MESSAGE_FIELDS, 'waId', 'wamid', 'urns', 'sealed']);

function mask(value: unknown): unknown {
  if (typeof value === 'string') return `[masked: ${value.length} characters]`;
  if (Array.isArray(value)) return `[masked: ${value.length} items]`;
  if (value && typeof value === 'object') return `[masked: ${Object.keys(value).length} fields]`;
  return value === null || value === undefined ? value : '[masked]';
}

/** A payload as an operator may see it without revealing: routing fields shown, personal ones described. */
export function maskPersonal(payload: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, PERSONAL_FIELDS.has(k) ? mask(v) : v]));
}
