import type { ChannelVector, ChannelVectors } from '../vector';
import { parseWhatsAppRequest } from './parse';

/** One text message from `from`, in the Cloud API envelope. */
const webhook = (...messages: object[]) => ({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { messages } }] }] });
const text = (extra: object) => webhook({ id: 'wamid.v1', from: '254711000000', timestamp: '1764150009', type: 'text', text: { body: 'HELP' }, ...extra });
const at = (iso: string) => new Date(iso);

/** Shapes from nyaruka/courier handlers/meta/testdata/wac/ (see test/fixtures/whatsapp/README.md). */
const fixtureRows: ChannelVector[] = [
  { name: 'voice note', body: { fixture: 'whatsapp/voice.json' }, expected: { outcome: 'message', messages: [{ wamid: 'wamid.fx-voice', waId: '254711200001', text: '', attachments: ['whatsapp-media:voice:media-voice-1'] }] } },
  { name: 'image with a caption', body: { fixture: 'whatsapp/image-caption.json' }, expected: { outcome: 'message', messages: [{ waId: '254711200002', text: 'HELP this is where it happens', attachments: ['whatsapp-media:image:media-image-1'] }] } },
  { name: 'audio with a caption', body: { fixture: 'whatsapp/audio-caption.json' }, expected: { outcome: 'message', messages: [{ text: 'listen to what he says', attachments: ['whatsapp-media:audio:media-audio-1'] }] } },
  { name: 'video with a caption', body: { fixture: 'whatsapp/video-caption.json' }, expected: { outcome: 'message', messages: [{ text: 'this happened at the market', attachments: ['whatsapp-media:video:media-video-1'] }] } },
  { name: 'document with a caption', body: { fixture: 'whatsapp/document.json' }, expected: { outcome: 'message', messages: [{ text: 'the letter they gave me', attachments: ['whatsapp-media:document:media-document-1'] }] } },
  { name: 'sticker', body: { fixture: 'whatsapp/sticker.json' }, expected: { outcome: 'message', messages: [{ text: '', attachments: ['whatsapp-media:sticker:media-sticker-1'] }] } },
  { name: 'WhatsApp Flows reply: what the person saw, not the form', body: { fixture: 'whatsapp/interactive-nfm-reply.json' }, expected: { outcome: 'message', messages: [{ text: 'Sent', attachments: [] }] } },
  { name: 'list reply', body: { fixture: 'whatsapp/interactive-list-reply.json' }, expected: { outcome: 'message', messages: [{ text: 'FEEDBACK' }] } },
  { name: 'timestamp in milliseconds', body: { fixture: 'whatsapp/timestamp-milliseconds.json' }, expected: { outcome: 'message', messages: [{ text: 'HELP please', receivedAt: at('2025-11-26T09:40:09.000Z') }] } },
  { name: 'only a business-scoped user id', body: { fixture: 'whatsapp/from-user-id-no-from.json' }, expected: { outcome: 'message', messages: [{ waId: 'KE.fx4711', otherIds: [], text: 'MSAADA naomba msaada' }] } },
  { name: 'from and from_user_id: linked as one person', body: { fixture: 'whatsapp/from-and-user-id.json' }, expected: { outcome: 'message', messages: [{ waId: '254711200020', otherIds: ['KE.fx5820'], text: 'STOP' }] } },
  { name: 'contacts: that one was sent, never the card', body: { fixture: 'whatsapp/contacts.json' }, expected: { outcome: 'message', messages: [{ text: '', attachments: ['whatsapp-message:contacts'] }] } },
  { name: 'delivery statuses carry no message', body: { fixture: 'whatsapp/statuses.json' }, expected: { outcome: 'message', messages: [], unreadable: [] } },
  {
    name: 'a batch keeps its readable messages and sets the one without a sender aside',
    body: { fixture: 'whatsapp/batch-with-unreadable.json' },
    expected: { outcome: 'message', messages: [{ wamid: 'wamid.fx-batch-1' }, { wamid: 'wamid.fx-batch-3' }], unreadable: [{ wamid: 'wamid.fx-batch-2', reason: 'WhatsApp message has neither from nor from_user_id' }] },
  },
];

const rows: ChannelVector[] = [
  ...fixtureRows,
  { name: 'text', body: text({}), expected: { outcome: 'message', messages: [{ wamid: 'wamid.v1', waId: '254711000000', text: 'HELP', attachments: [], receivedAt: at('2025-11-26T09:40:09.000Z') }] } },
  { name: 'button reply', body: text({ type: 'button', text: undefined, button: { text: 'HELP', payload: 'help' } }), expected: { outcome: 'message', messages: [{ text: 'HELP' }] } },
  { name: 'location', body: text({ type: 'location', text: undefined, location: { latitude: -1.28, longitude: 36.82 } }), expected: { outcome: 'message', messages: [{ text: 'Location shared: -1.28,36.82' }] } },
  { name: 'a timestamp no message can carry is the receive time', body: text({ timestamp: '9999999999999999' }), expected: { outcome: 'message', messages: [{ receivedAt: at('2026-12-01T12:00:00Z') }] } },
  { name: 'reactions are skipped', body: text({ type: 'reaction', reaction: { message_id: 'm', emoji: '👍' } }), expected: { outcome: 'message', messages: [], unreadable: [] } },
  { name: 'group messages are skipped', body: text({ group_id: '555' }), expected: { outcome: 'message', messages: [], unreadable: [] } },
  {
    name: 'an unknown type is set aside without its name',
    body: text({ type: 'CANARY-4711', text: undefined }),
    expected: { outcome: 'message', messages: [], unreadable: [{ wamid: 'wamid.v1', reason: 'WhatsApp message of type (unknown) has no text or media we read' }] },
  },
  {
    name: 'a sender that is not a phone number or user id is set aside',
    body: text({ from: '+CANARY' }),
    expected: { outcome: 'message', messages: [], unreadable: [{ wamid: 'wamid.v1', reason: 'WhatsApp sender id is not a phone number or user id' }] },
  },
  {
    name: 'a signed body that is not a WhatsApp webhook is kept whole',
    body: '{"hello": "world"}',
    expected: { outcome: 'message', messages: [], unreadable: [{ wamid: null, reason: 'body is not a WhatsApp Cloud API webhook (fields object, entry)' }] },
  },
  {
    name: 'a signed body that is not JSON is kept whole, as text',
    body: 'not json',
    expected: { outcome: 'message', messages: [], unreadable: [{ wamid: null, message: 'not json' }] },
  },
];

export const channelVectors: ChannelVectors = { parse: parseWhatsAppRequest, rows };
