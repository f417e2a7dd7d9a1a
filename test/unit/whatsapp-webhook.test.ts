import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readWhatsAppMessage, readWhatsAppWebhook, whatsappTime } from '../../src/domain/whatsapp-webhook';

/** Shapes from nyaruka/courier handlers/meta/testdata/wac/ (see test/fixtures/whatsapp/README.md). */
const fixture = (name: string): unknown => JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'whatsapp', name), 'utf8'));
const now = new Date('2026-12-01T12:00:00Z');

describe('WhatsApp Cloud API messages, one at a time', () => {
  it('reads seconds as seconds and milliseconds as milliseconds, as courier does; nonsense falls back to now', () => {
    expect(whatsappTime('1764150009', now).toISOString()).toBe('2025-11-26T09:40:09.000Z');
    expect(whatsappTime('1764150009000', now).toISOString()).toBe('2025-11-26T09:40:09.000Z');
    expect(whatsappTime(1764150009, now).toISOString()).toBe('2025-11-26T09:40:09.000Z');
    expect(whatsappTime('asdf', now)).toBe(now);
    expect(whatsappTime(undefined, now)).toBe(now);
  });

  it('keeps the readable messages of a batch and sets the one without a sender aside', () => {
    const batch = readWhatsAppWebhook(fixture('batch-with-unreadable.json'), now);
    expect(batch.messages.map((m) => m.wamid)).toEqual(['wamid.fx-batch-1', 'wamid.fx-batch-3']);
    expect(batch.unreadable).toEqual([{ wamid: 'wamid.fx-batch-2', reason: 'WhatsApp message has neither from nor from_user_id', message: expect.objectContaining({ id: 'wamid.fx-batch-2' }) }]);
  });

  it('takes from_user_id when there is no from', () => {
    const [m] = readWhatsAppWebhook(fixture('from-user-id-no-from.json'), now).messages;
    expect(m).toMatchObject({ waId: 'KE.fx4711', text: 'MSAADA naomba msaada' });
  });

  it('never puts a sender-chosen value into a reason', () => {
    const read = readWhatsAppMessage({ id: 'x', from: '254711000000', type: 'CANARY-4711', timestamp: '1' }, now);
    expect(read).toEqual({ kind: 'unreadable', reason: 'WhatsApp message of type (unknown) has no text or media we read' });
    const bad = readWhatsAppMessage({ id: 'x', from: '+CANARY', type: 'text', text: { body: 'hi' } }, now);
    expect(JSON.stringify(bad)).not.toContain('CANARY');
  });

  it('skips reactions and group messages, and reads statuses as no message at all', () => {
    expect(readWhatsAppMessage({ id: 'r', from: '254711000000', type: 'reaction', reaction: { message_id: 'm', emoji: '👍' } }, now)).toEqual({ kind: 'skip' });
    expect(readWhatsAppMessage({ id: 'g', from: '254711000000', group_id: '555', type: 'text', text: { body: 'x' } }, now)).toEqual({ kind: 'skip' });
    expect(readWhatsAppWebhook(fixture('statuses.json'), now)).toEqual({ messages: [], sources: [], unreadable: [] });
  });
});
