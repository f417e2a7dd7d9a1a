import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildCaseRecord, caseMappingSchema } from '../../src/domain/case-mapping';
import type { InboundMessage } from '../../src/domain/inbound-message';
import { createsIncidents, loadMappings } from '../../src/mappings';

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

  it('reads a no word anywhere in the answer as no consent, even where the flow said Yes, and writes the words down', () => {
    for (const answer of ['No, y no quiero', 'no thanks', 'Non, je ne veux pas', 'não, obrigado', 'hapana asante', 'لا شكرا']) {
      const refused = buildCaseRecord(message({ consent: [answer, 'Yes'] }), mapping, 'id');
      expect(refused.consentGiven).toBe(false);
      expect(refused.data.consent_for_services).toBe(false);
      expect(refused.data.protection_concerns_other).toContain(`Consent as given: ${answer}`);
    }
  });

  it('never reads an unclear or missing answer as consent', () => {
    const unclear = buildCaseRecord(message({ consent: ['perhaps later', 'Other'] }), mapping, 'id');
    expect(unclear.consentGiven).toBe(false);
    expect(unclear.data.consent_for_services).toBe(false);
    expect(unclear.data.protection_concerns_other).toBe('Consent as given: perhaps later');
    expect(buildCaseRecord(message({}), mapping, 'id').consentGiven).toBe(false);
  });

  it('keeps a clear no apart from an unclear answer, and writes the no down for the caseworker', () => {
    const no = buildCaseRecord(message({ consent: ['Hapana', 'No'] }), mapping, 'id');
    // The caseworker reads the difference in the record: the refusal as a no, the unclear answer as given.
    expect(no.consentGiven).toBe(false);
    expect(no.data.protection_concerns_other).toBe('Consent as given: no');
    const unclear = buildCaseRecord(message({ consent: ['perhaps later', 'Other'] }), mapping, 'id');
    expect(unclear.consentGiven).toBe(false);
    expect(unclear.data.protection_concerns_other).toBe('Consent as given: perhaps later');
  });

  it("writes several lines into Primero's single-line text field with a visible separator, never a line break", () => {
    const msg = { ...message({ location: ['Goma', 'All Responses'], consent: ['maybe', 'Other'] }), text: 'he hits me\nevery night\r\n\r\nplease help' };
    const text = buildCaseRecord(msg, mapping, 'id').data.protection_concerns_other as string;
    expect(text).toBe('he hits me | every night | please help | Location as given: Goma | Consent as given: maybe');
    expect(text).not.toMatch(/[\r\n]/);
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

/*
 * A caseworker's message reaches the phone only when the record holds a clear yes here (the sender reads the
 * field at send time): someone else may read this phone, so every answer that is not a clear yes must read as no.
 */
describe.each(['referral', 'feedback'] as const)('the shipped %s mapping and "Is it safe for us to send messages to this phone?"', (intent) => {
  const shipped = loadMappings(path.join(__dirname, '..', '..', 'flows')).get(intent)!;
  const safe = (value: string, category: string) => buildCaseRecord(message({ safe_to_contact: [value, category] }), shipped, 'id').data;

  it('stores the answer in the field the sender reads', () => {
    expect(shipped.safe_to_contact_field).toBe('safe_to_contact');
  });

  it('marks the phone safe on a clear yes, in the six languages', () => {
    expect(safe('Yes', 'Yes').safe_to_contact).toBe(true);
    for (const word of ['oui', 'Sí', 'SIM', 'ndiyo', 'نعم']) expect(safe(word, 'Other').safe_to_contact).toBe(true);
  });

  it('marks it not safe on a no, in the six languages', () => {
    for (const [value, category] of [['no', 'No'], ['non', 'Other'], ['não', 'Other'], ['hapana', 'Other'], ['لا', 'Other'], ['yes no', 'No']]) {
      expect(safe(value!, category!).safe_to_contact).toBe(false);
    }
  });

  it('marks an unclear answer not safe, and keeps the words for the caseworker', () => {
    const data = safe('only after 6pm when he is out', 'Other');
    expect(data.safe_to_contact).toBe(false);
    expect(data.protection_concerns_other).toContain('Safe to contact as given: only after 6pm when he is out');
  });

  // goflow's has_any_word gives category Yes to any answer holding one yes word (flows/routers/cases/tests.go):
  // the words decide, the category never makes a yes.
  it.each([
    ['spa', 'Si él lee mis mensajes me pega'],
    ['spa', 'Nunca, y él revisa mi teléfono'],
    ['eng', 'yes but my uncle reads my phone'],
    ['eng', 'Y'],
    ['fra', 'Si mon mari lit mes messages il me frappe'],
    ['fra', 'oui mais mon frère lit mes messages'],
    ['por', 'Sim, mas o meu pai lê as minhas mensagens'],
    ['por', 'S'],
    ['swa', 'Ndiyo lakini baba husoma simu yangu'],
    ['ara', 'نعم لكن أخي يقرأ رسائلي'],
  ])('(%s) "%s" with the flow saying Yes is not safe, and its words reach the caseworker', (_language, answer) => {
    const data = safe(answer, 'Yes');
    expect(data.safe_to_contact).toBe(false);
    expect(data.protection_concerns_other).toContain(`Safe to contact as given: ${answer}`);
  });

  it('is safe on a whole answer of one yes word or a short yes phrase, punctuation dropped, in the six languages', () => {
    for (const answer of ['Yes.', '¡Sí, sí!', 'si', 'Oui oui', 'Sim!', 'NDIO', 'نعم،', 'yes yes yes']) expect(safe(answer, 'Other').safe_to_contact).toBe(true);
    expect(safe('yes yes yes yes', 'Yes').safe_to_contact).toBe(false);
  });

  it('is not safe when a no word is anywhere in the answer, whatever the flow said', () => {
    for (const answer of ['No, y no quiero', 'yes no', 'sí... no', 'oui non', 'sim não', 'ndiyo hapana', 'نعم لا']) expect(safe(answer, 'Yes').safe_to_contact).toBe(false);
  });

  it('writes nothing when the question was never answered (an SMS report, an older flow), so nobody reads it as yes', () => {
    expect(buildCaseRecord(message({}), shipped, 'id').data).not.toHaveProperty('safe_to_contact');
    expect(safe('', '')).not.toHaveProperty('safe_to_contact');
  });
});

it('feedback writes a clear no down as a line too: a later report merged into an earlier record adds only its text', () => {
  const feedback = loadMappings(path.join(__dirname, '..', '..', 'flows')).get('feedback')!;
  const data = buildCaseRecord(message({ safe_to_contact: ['hapana', 'No'] }), feedback, 'id').data;
  expect(data.protection_concerns_other).toBe('Safe to contact as given: no');
});

describe('a mapping that names safe_to_contact_field', () => {
  type RawMapping = { results: Record<string, { first?: string }>; static_fields?: object; category_overrides?: object; safe_to_contact_field?: string };
  const raw = () => JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'flows', 'referral.mapping.json'), 'utf8')) as RawMapping;
  const problems = (mapping: unknown) => {
    const parsed = caseMappingSchema.safeParse(mapping);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('is refused when no yes_no rule writes that field, naming the file', () => {
    const mapping = raw();
    delete mapping.results.safe_to_contact;
    const dir = mkdtempSync(path.join(tmpdir(), 'mapping-'));
    try {
      writeFileSync(path.join(dir, 'referral.mapping.json'), JSON.stringify(mapping));
      expect(() => loadMappings(dir)).toThrow(`${path.join(dir, 'referral.mapping.json')}: safe_to_contact_field: no yes_no rule of this mapping writes safe_to_contact`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is refused when anything but its yes_no rule could write the field (a fixed true would mark every phone safe)', () => {
    const fixed = raw();
    fixed.static_fields = { safe_to_contact: true };
    expect(problems(fixed)).toEqual(['safe_to_contact_field: safe_to_contact is also written by something other than a yes_no rule']);
    const words = raw();
    words.results.name!.first = 'safe_to_contact';
    expect(problems(words)).toEqual(['safe_to_contact_field: safe_to_contact is also written by something other than a yes_no rule']);
    const overridden = raw();
    overridden.category_overrides = { any: { static_fields: { safe_to_contact: 'yes' } } };
    expect(problems(overridden)).toHaveLength(1);
  });

  it('is refused when two yes_no rules write the field (a consent yes would overwrite "not safe", by result order)', () => {
    const both = raw() as RawMapping & { results: Record<string, { fields?: string[] }> };
    both.results.consent!.fields = [...(both.results.consent!.fields ?? []), 'safe_to_contact'];
    expect(problems(both)).toEqual(['safe_to_contact_field: 2 yes_no rules write safe_to_contact; exactly one may']);
  });

  it('refuses a yes_no rule with a word on both its yes and its no list', () => {
    const both = raw() as RawMapping & { results: Record<string, { yes?: string[] }> };
    both.results.safe_to_contact!.yes = [...both.results.safe_to_contact!.yes!, 'No'];
    expect(problems(both)).toEqual(['results.safe_to_contact.yes: a word is on both the yes and the no list']);
  });

  it('is accepted as shipped, and without the setting', () => {
    expect(problems(raw())).toEqual([]);
    const without = raw();
    delete without.safe_to_contact_field;
    delete without.results.safe_to_contact;
    expect(problems(without)).toEqual([]);
  });
});

describe('whether the loaded mappings create incidents (the poller then searches them too)', () => {
  const shipped = loadMappings(path.join(__dirname, '..', '..', 'flows'));
  const feedback = shipped.get('feedback')!;

  it('is so for a mapping of record_type incident, or one category of it, and not for the shipped mappings', () => {
    expect(createsIncidents(shipped)).toBe(false);
    expect(createsIncidents(new Map([...shipped, ['referral', { ...mapping, record_type: 'incident' as const }]]))).toBe(true);
    const sea = { ...feedback, category_overrides: { ...feedback.category_overrides, sea: { ...feedback.category_overrides.sea, record_type: 'incident' as const } } };
    expect(createsIncidents(new Map([...shipped, ['feedback', sea]]))).toBe(true);
  });
});

describe('a mapping that writes a field the gateway or Primero own', () => {
  const raw = () => JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'flows', 'referral.mapping.json'), 'utf8')) as { results: Record<string, { first?: string }>; static_fields?: Record<string, unknown>; category_overrides?: Record<string, unknown> };
  const problems = (mapping: unknown) => {
    const parsed = caseMappingSchema.safeParse(mapping);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('is refused, naming where (a fixed id would make every later create a 409 read as "made", and its report lost)', () => {
    expect(problems(raw())).toEqual([]);
    expect(problems({ ...raw(), static_fields: { id: 'fixed' } })).toEqual(['static_fields: id is set by the gateway or by Primero, never by a mapping']);
    expect(problems({ ...raw(), category_overrides: { x: { static_fields: { case_id: 'C-1' } } } })).toEqual(['category_overrides.x.static_fields: case_id is set by the gateway or by Primero, never by a mapping']);
    const m = raw();
    m.results.name = { ...m.results.name, first: 'module_id' };
    expect(problems(m)).toEqual(['results.name: module_id is set by the gateway or by Primero, never by a mapping']);
  });

  it("keeps the record's own id and module whatever fixed fields say", () => {
    const mapping = caseMappingSchema.parse(raw());
    const record = buildCaseRecord(message({}), { ...mapping, static_fields: { ...mapping.static_fields, id: 'fixed', module_id: 'other' } }, 'the-id').data;
    expect([record.id, record.module_id]).toEqual(['the-id', mapping.module_id]);
  });
});
