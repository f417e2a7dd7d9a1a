import type { Logger } from '../../logger';
import type { WhatsAppWindowStore } from '../../store/whatsapp-windows';
import type { WhatsAppInbound } from './parse';

/**
 * Records that the sender's 24-hour window is open, under each of their WhatsApp identities (a reply may be
 * addressed to either). Best effort, after the message is stored: a failure here only means the next caseworker
 * message goes out as the template, so it never costs the acknowledgement Meta waits for.
 */
export async function openWhatsAppWindow(windows: WhatsAppWindowStore | null, m: WhatsAppInbound, logger: Logger): Promise<void> {
  if (!windows) return;
  try {
    for (const id of [m.waId, ...m.otherIds]) await windows.open(`whatsapp:${id}`, m.receivedAt);
  } catch (err) {
    logger.warn({ channel: 'whatsapp', err: (err as Error).name }, 'WhatsApp window not recorded: the next reply to this sender goes out as the template');
  }
}
