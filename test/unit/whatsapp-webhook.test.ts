import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readWhatsAppMessage, readWhatsAppWebhook, whatsappTime } from '../../src/channels/whatsapp/parse';
import { whatsappSenders } from '../../src/channels/whatsapp/senders';

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

  it('falls back to the receive time for a timestamp no message can carry (16 digits, before 2009, tomorrow)', () => {
    for (const t of ['9999999999999999', '8640000000000001', '1', '1230000000', String(Math.floor(now.getTime() / 1000) + 2 * 86400)]) {
      const at = whatsappTime(t, now);
      expect(at).toBe(now);
    }
  });

  it("keeps from as the sender and links from_user_id as the same person's other id (courier: hello_user_id.json)", () => {
    const [m] = readWhatsAppWebhook(fixture('from-and-user-id.json'), now).messages;
    expect(m).toMatchObject({ waId: '254711200020', otherIds: ['KE.fx5820'] });
    expect(readWhatsAppWebhook(fixture('from-user-id-no-from.json'), now).messages[0]!.otherIds).toEqual([]);
  });

  it('reads contacts, order and unsupported messages as "a <type> message was sent", never their content', () => {
    const [m] = readWhatsAppWebhook(fixture('contacts.json'), now).messages;
    expect(m).toMatchObject({ text: '', attachments: ['whatsapp-message:contacts'] });
    expect(JSON.stringify(m)).not.toMatch(/Baraka|254722000999/);
    for (const type of ['order', 'unsupported']) {
      expect(readWhatsAppMessage({ id: 'x', from: '254711000000', type, [type]: {} }, now)).toMatchObject({ kind: 'message', message: { attachments: [`whatsapp-message:${type}`] } });
    }
  });

  it("names every sender of a kept body by the known paths only: messages' from/from_user_id and contacts' ids", () => {
    const body = fixture('from-and-user-id.json') as { entry: Array<{ changes: Array<{ value: { contacts: unknown[] } }> }> };
    body.entry[0]!.changes[0]!.value.contacts.push({ wa_id: '254711200099', profile: { name: 'Other Person' } }, { wa_id: '+CANARY' });
    expect(whatsappSenders(body).sort()).toEqual(['254711200020', '254711200099', 'KE.fx5820']);
    expect(whatsappSenders({ from: '254711000000', id: 'x' })).toEqual(['254711000000']);
    expect(whatsappSenders('not json')).toEqual([]);
  });
});
