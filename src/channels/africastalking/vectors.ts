import type { ChannelVector, ChannelVectors } from '../vector';
import { parseAfricasTalkingRequest } from './parse';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const sms = (extra: Record<string, string> = {}) => form({ id: 'ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3', text: 'FEEDBACK the office was closed', from: '+254766000666', to: '21512', ...extra });
const now = new Date('2026-12-01T12:00:00Z');

/** Bodies shaped like courier's handler tests (see test/fixtures/sms/README.md); the token is the route's. */
const rows: ChannelVector[] = [
  {
    name: 'ISO date',
    body: { fixture: 'sms/africastalking-receive.form' },
    expected: {
      outcome: 'message',
      messages: [{ channel: 'africastalking', providerId: '0b7f2c1e-51d5-4bc8-8eb0-d8ab0bb53001', urn: 'tel:+254711300003', text: 'MSAADA nisaidie', attachments: [], receivedAt: new Date('2026-11-26T10:04:45Z') }],
    },
  },
  { name: 'date with a space, read as UTC', body: { fixture: 'sms/africastalking-receive-space-date.form' }, expected: { outcome: 'message', messages: [{ urn: 'tel:+254711300004', receivedAt: new Date('2026-11-26T10:05:45Z') }] } },
  { name: 'no date: received now', body: sms(), expected: { outcome: 'message', messages: [{ text: 'FEEDBACK the office was closed', receivedAt: now }] } },
  { name: 'an unreadable date: received now', body: sms({ date: 'yesterday' }), expected: { outcome: 'message', messages: [{ receivedAt: now }] } },
  { name: 'no text is an empty text', body: form({ id: 'x1', from: '+254766000666', to: '21512' }), expected: { outcome: 'message', messages: [{ text: '' }] } },
  { name: 'an empty body', body: '', expected: { outcome: 'rejected', status: 400, code: 'empty_body' } },
  { name: 'missing fields are each named', body: form({ text: 'x' }), expected: { outcome: 'rejected', status: 422, code: 'missing_fields', paths: ['id', 'from', 'to'] } },
];

export const channelVectors: ChannelVectors = { parse: parseAfricasTalkingRequest, rows };
