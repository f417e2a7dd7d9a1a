import path from 'node:path';
import { buildCaseRecord } from '../../src/domain/case-mapping';
import type { InboundMessage } from '../../src/domain/inbound-message';
import { loadMappings } from '../../src/mappings';

const mapping = loadMappings(path.join(__dirname, '..', '..', 'flows')).get('referral')!;

function message(results: Record<string, [string, string]>, urn: string | null = 'tel:+250788123123'): InboundMessage {
  return {
    v: 1,
    reference: 'ABCD2345',
    intent: 'referral',
    channel: 'rapidpro',
    idempotencyKey: 'k',
    urn,
    contactUuid: null,
    language: 'fra',
    text: null,
    attachments: [],
    results: Object.fromEntries(Object.entries(results).map(([k, [value, category]]) => [k, { value, category }])),
    flowUuid: null,
    receivedAt: '2026-01-01T00:00:00Z',
    simulation: false,
    sensitive: false,
    mergeInto: null,
    acceptanceId: null,
  };
}

describe('the shipped referral mapping', () => {
  it('folds accents and case when matching lookups, in several languages', () => {
    expect(buildCaseRecord(message({ sex: ['Garçon', 'Other'] }), mapping, 'id').data.sex).toBe('male');
    expect(buildCaseRecord(message({ sex: ['MENINA', ''] }), mapping, 'id').data.sex).toBe('female');
    expect(buildCaseRecord(message({ consent: ['Oui', 'Other'] }), mapping, 'id').consentGiven).toBe(true);
    expect(buildCaseRecord(message({ consent: ['Ndiyo', ''] }), mapping, 'id').consentGiven).toBe(true);
    expect(buildCaseRecord(message({ consent: ['نعم', ''] }), mapping, 'id').consentGiven).toBe(true);
  });

  it('never reads an unclear or missing answer as consent', () => {
    const unclear = buildCaseRecord(message({ consent: ['perhaps later', 'Other'] }), mapping, 'id');
    expect(unclear.consentGiven).toBe(false);
    expect(unclear.data.consent_for_services).toBe(false);
    expect(unclear.data.protection_concerns_other).toBe('Consent as given: perhaps later');
    expect(buildCaseRecord(message({}), mapping, 'id').consentGiven).toBe(false);
  });

  it('takes the phone from tel: and whatsapp: URNs only, in E.164', () => {
    expect(buildCaseRecord(message({}, 'whatsapp:250788123124'), mapping, 'id').data.telephone_current).toBe('+250788123124');
    expect(buildCaseRecord(message({}, 'tel:+250788123123#Grace'), mapping, 'id').data.telephone_current).toBe('+250788123123');
    expect(buildCaseRecord(message({}, 'tel:********'), mapping, 'id').data.telephone_current).toBeUndefined();
    expect(buildCaseRecord(message({}, 'telegram:3527065'), mapping, 'id').data.telephone_current).toBeUndefined();
  });

  it('passes location codes through and keeps place names as text', () => {
    expect(buildCaseRecord(message({ location: ['XX0101', 'All Responses'] }), mapping, 'id').data.location_current).toBe('XX0101');
    const named = buildCaseRecord(message({ location: ['Goma', 'All Responses'] }), mapping, 'id').data;
    expect(named.location_current).toBeUndefined();
    expect(named.protection_concerns_other).toBe('Location as given: Goma');
  });

  it('maps a known concern category to its lookup and keeps the words', () => {
    const data = buildCaseRecord(message({ concern: ['they make me work at night', 'Child labour'] }), mapping, 'id').data;
    expect(data.protection_concerns).toEqual(['worst_forms_of_child_labor']);
    expect(data.protection_concerns_other).toBe('they make me work at night');
  });

  it('keeps a single name as the first name', () => {
    expect(buildCaseRecord(message({ name: ['Grace', 'All Responses'] }), mapping, 'id').data).toMatchObject({ name_first: 'Grace' });
    expect(buildCaseRecord(message({ name: ['Grace', 'All Responses'] }), mapping, 'id').data.name_last).toBeUndefined();
  });
});
