import { SENDER } from './sender-id';

const MAX_SENDERS = 1000;
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const field = (v: unknown, name: string): unknown => (v && typeof v === 'object' ? (v as Record<string, unknown>)[name] : undefined);

/**
 * Every WhatsApp identity a kept item names: a message's `from`/`from_user_id`, or, for a whole body, each of
 * its messages' and `contacts[]`' ids. Only the known paths are read (never a walk of the whole tree), so a
 * deep or huge body costs no more than its messages. What forget matches a dead letter by.
 */
export function whatsappSenders(kept: unknown): string[] {
  const ids = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string' && SENDER.test(v) && ids.size < MAX_SENDERS) ids.add(v);
  };
  const fromMessage = (m: unknown) => {
    add(field(m, 'from'));
    add(field(m, 'from_user_id'));
  };
  fromMessage(kept);
  for (const entry of asList(field(kept, 'entry'))) {
    for (const change of asList(field(entry, 'changes'))) {
      const value = field(change, 'value');
      for (const m of asList(field(value, 'messages'))) fromMessage(m);
      for (const c of asList(field(value, 'contacts'))) {
        add(field(c, 'wa_id'));
        add(field(c, 'user_id'));
      }
    }
  }
  return [...ids];
}
