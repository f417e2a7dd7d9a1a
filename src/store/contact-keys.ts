import { gatewayKey } from './keys';

/** The key names of what the gateway keeps about a sender, all by keyed hash (never a number). */
export interface ContactKeys {
  /** `gw:optout` (set): the opted-out hashes. */
  optOut(): string;
  /** `gw:optout-urns` (hash): opt-out hash → the URN, sealed (see OptOutStore). */
  optOutUrns(): string;
  /** `gw:urn-link:<hash>` (set): the hashes of the identities linked to this one. */
  link(hash: string): string;
  /** `gw:urn-link-urns` (hash): a linked identity's hash → its URN, sealed (see IdentityLinkStore). */
  linkedUrns(): string;
  /** `gw:rate:<hash>` (counter): messages in the current rate window. */
  rate(hash: string): string;
  /** `gw:contact-refs:<hash>` (set): the sender's references. */
  refs(hash: string): string;
  /** `gw:feedback-window:<hash>:<category>`; pass `*` as the category for the scan pattern. */
  feedbackWindow(hash: string, category: string): string;
  /** `gw:wa-window:<hash>`: exists while the sender's WhatsApp 24-hour window is open (see WhatsAppWindowStore). */
  whatsappWindow(hash: string): string;
  /** `gw:urn-hash-key`: the hash key versions before #13 kept in Redis. */
  legacyHashKey(): string;
}

export function contactKeys(prefix: string): ContactKeys {
  return {
    optOut: () => gatewayKey(prefix, 'optout'),
    optOutUrns: () => gatewayKey(prefix, 'optout-urns'),
    link: (hash) => gatewayKey(prefix, 'urn-link', hash),
    linkedUrns: () => gatewayKey(prefix, 'urn-link-urns'),
    rate: (hash) => gatewayKey(prefix, 'rate', hash),
    refs: (hash) => gatewayKey(prefix, 'contact-refs', hash),
    feedbackWindow: (hash, category) => gatewayKey(prefix, 'feedback-window', hash, category),
    whatsappWindow: (hash) => gatewayKey(prefix, 'wa-window', hash),
    legacyHashKey: () => gatewayKey(prefix, 'urn-hash-key'),
  };
}
