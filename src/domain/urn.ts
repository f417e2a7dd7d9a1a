/** RapidPro URNs: `scheme:path[?query][#display]` (nyaruka/gocommon urns). */
export function parseUrn(urn: string): { scheme: string; path: string } | null {
  const m = /^([a-z]+):([^?#]+)/.exec(urn.trim());
  return m ? { scheme: m[1]!, path: m[2]! } : null;
}

/** E.164 phone number from a `tel:` or `whatsapp:` URN; null for short codes, masked or other URNs. */
export function phoneFromUrn(urn: string | null): string | null {
  if (!urn) return null;
  const parsed = parseUrn(urn);
  if (!parsed) return null;
  if (parsed.scheme === 'tel' && /^\+[1-9][0-9]{6,14}$/.test(parsed.path)) return parsed.path;
  if (parsed.scheme === 'whatsapp' && /^[1-9][0-9]{6,14}$/.test(parsed.path)) return `+${parsed.path}`;
  return null;
}

/**
 * goflow renders every URN as `scheme:********` in a workspace whose redaction policy is `urns` (nyaruka/goflow
 * core/urn.go, ToXValue): the same text for every contact, so it names nobody and is read as no URN at all.
 */
export function isRedactedUrn(urn: string): boolean {
  const parsed = parseUrn(urn);
  return parsed !== null && /^\*+$/.test(parsed.path);
}

/** The URN a RapidPro body names, or null when it names none (absent, empty or redacted). */
export function addressableUrn(urn: string | null | undefined): string | null {
  const trimmed = urn?.trim();
  return trimmed && !isRedactedUrn(trimmed) ? trimmed : null;
}
