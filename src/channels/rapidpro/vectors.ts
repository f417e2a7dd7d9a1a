import type { ChannelVector, ChannelVectors } from '../vector';
import { parseRapidProRequest } from './parse';

const referral = { intent: 'referral' };
const contact = { uuid: '0e5a3c9b-2c7e-4a44-9d8f-3b7c1a2e4f60', urn: 'tel:+250788123123', language: 'eng' };
const flow = { uuid: '7a1b6e0c-6b5d-4f1e-8a3c-2d9e4f6a7b81', name: 'Referral' };
const body = (extra: object = {}) => ({ contact, flow, results: { age: { value: '34', category: 'Valid' } }, ...extra });
const LEGACY_RUN_KEY = 'run:01969b47-113b-76f8-95cf-9fca95f1c30a:c0781400-737f-4940-9a6c-1ec1c3df0325';

/** The bodies RapidPro sends (test/fixtures/rapidpro/README.md), after the route's token check. */
const rows: ChannelVector[] = [
  {
    name: "the editor's default body, which has no ids",
    body: { fixture: 'rapidpro/webhook-body-default-editor.json' },
    pathParams: referral,
    expected: { outcome: 'message', messages: [{ channel: 'rapidpro', intent: 'referral', urn: 'tel:+250788123123', results: { age: { value: '34', category: 'Valid' } }, simulation: false }] },
  },
  {
    name: 'the legacy body: its run names the message, its last input is left out',
    body: { fixture: 'rapidpro/webhook-body-legacy-full.json' },
    pathParams: referral,
    expected: { outcome: 'message', messages: [{ text: null, language: 'eng', idempotencyKey: `rapidpro:referral:${LEGACY_RUN_KEY}` }] },
  },
  {
    name: 'the intent is the route path',
    body: { fixture: 'rapidpro/webhook-body-legacy-full.json' },
    pathParams: { intent: 'feedback' },
    expected: { outcome: 'message', messages: [{ intent: 'feedback', idempotencyKey: `rapidpro:feedback:${LEGACY_RUN_KEY}` }] },
  },
  {
    name: "the simulator's header marks the message simulated",
    body: body(),
    headers: { 'x-mailroom-mode': 'simulation' },
    pathParams: referral,
    expected: { outcome: 'message', messages: [{ simulation: true }] },
  },
  {
    name: 'the contact uuid is lowercased, as forget normalises it',
    body: body({ contact: { ...contact, uuid: contact.uuid.toUpperCase() } }),
    pathParams: referral,
    expected: { outcome: 'message', messages: [{ contactUuid: contact.uuid, flowUuid: flow.uuid, receivedAt: '2026-12-01T12:00:00.000Z' }] },
  },
  {
    name: "an anonymous workspace's redacted URN (goflow core/urn.go) is no URN: the contact UUID identifies the person",
    body: body({ contact: { ...contact, urn: 'tel:********' } }),
    pathParams: referral,
    expected: { outcome: 'message', messages: [{ urn: null, contactUuid: contact.uuid }] },
  },
  { name: 'numbers where goflow would send strings', body: body({ results: { age: { value: 34, category: 'Valid' } } }), pathParams: referral, expected: { outcome: 'message', messages: [{ results: { age: { value: '34', category: 'Valid' } } }] } },
  { name: 'a byte order mark before the JSON', body: `\uFEFF${JSON.stringify(body())}`, pathParams: referral, expected: { outcome: 'message', messages: [{ urn: 'tel:+250788123123' }] } },
  { name: 'an empty body', body: '', pathParams: referral, expected: { outcome: 'rejected', status: 400, code: 'empty_body' } },
  { name: 'malformed JSON', body: '{"contact":', pathParams: referral, expected: { outcome: 'rejected', status: 400, code: 'malformed_json' } },
  { name: 'a body of another shape: each wrong field named', body: {}, pathParams: referral, expected: { outcome: 'rejected', status: 422, code: 'invalid_body', paths: ['contact', 'flow'] } },
  { name: 'a contact uuid that is not a UUID', body: body({ contact: { ...contact, uuid: 'nope' } }), pathParams: referral, expected: { outcome: 'rejected', status: 422, code: 'invalid_body', paths: ['contact.uuid'] } },
];

export const channelVectors: ChannelVectors = { parse: parseRapidProRequest, rows };
