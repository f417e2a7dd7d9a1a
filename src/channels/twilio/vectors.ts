import type { ChannelVector, ChannelVectors } from '../vector';
import { parseTwilioRequest } from './parse';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const sms = (extra: Record<string, string> = {}) => form({ MessageSid: 'SM0001', AccountSid: 'AC1', From: '+254711000111', To: '+254700000000', Body: 'HELP', NumMedia: '0', ...extra });

/** Bodies shaped like courier's handler tests (see test/fixtures/sms/README.md); the signature is the route's. */
const rows: ChannelVector[] = [
  {
    name: "courier's receive body",
    body: { fixture: 'sms/twilio-receive.form' },
    expected: { outcome: 'message', messages: [{ channel: 'twilio', providerId: 'SMf00d7109a5a925f182f0e07fe5b22001', urn: 'tel:+254711300001', text: 'MSAADA nisaidie', attachments: [] }] },
  },
  {
    name: 'WhatsApp through Twilio: a whatsapp: URN without the plus',
    body: { fixture: 'sms/twilio-whatsapp-receive.form' },
    expected: { outcome: 'message', messages: [{ urn: 'whatsapp:254711300002', text: 'FEEDBACK maji hakuna' }] },
  },
  { name: 'received now: Twilio sends no time', body: sms(), expected: { outcome: 'message', messages: [{ receivedAt: new Date('2026-12-01T12:00:00Z') }] } },
  { name: 'a short code sender is still read', body: sms({ From: '21512' }), expected: { outcome: 'message', messages: [{ urn: 'tel:21512' }] } },
  { name: 'no Body is an empty text', body: form({ MessageSid: 'SM2', From: '+254711000111', To: '+254700000000' }), expected: { outcome: 'message', messages: [{ text: '' }] } },
  {
    name: 'media links are the attachments',
    body: sms({ NumMedia: '2', MediaUrl0: 'https://api.twilio.com/m/0', MediaUrl1: 'https://api.twilio.com/m/1' }),
    expected: { outcome: 'message', messages: [{ attachments: ['https://api.twilio.com/m/0', 'https://api.twilio.com/m/1'] }] },
  },
  { name: 'at most 10 media links', body: sms({ NumMedia: '99', MediaUrl10: 'https://api.twilio.com/m/10' }), expected: { outcome: 'message', messages: [{ attachments: [] }] } },
  { name: 'an empty body', body: '', expected: { outcome: 'rejected', status: 400, code: 'empty_body' } },
  { name: 'missing fields are each named', body: form({ Body: 'HELP' }), expected: { outcome: 'rejected', status: 422, code: 'missing_fields', paths: ['MessageSid', 'From', 'To'] } },
];

export const channelVectors: ChannelVectors = { parse: parseTwilioRequest, rows };
