import { z } from 'zod';
import { reservedFieldIssues } from './reserved-fields';
import type { FlowResult, InboundMessage } from './inbound-message';
import { foldText } from './text-fold';
import { phoneFromUrn } from './urn';
import { own } from './own';
import { readYesNo, yesNoRuleSchema } from './yes-no';

const fieldName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a Primero field name');
/** Lookup ids with their aliases, folded once when the mapping is read, in the file's order. */
export type OptionIndex = ReadonlyArray<{ id: string; folded: ReadonlySet<string> }>;
const indexOptions = (table: Record<string, string[]>): OptionIndex =>
  Object.entries(table).map(([id, aliases]) => ({ id, folded: new Set([id, ...aliases].map(foldText)) }));
const optionTable = z.record(z.string(), z.array(z.string())).transform(indexOptions);
const isRegExp = (pattern: string) => {
  try {
    return new RegExp(pattern) instanceof RegExp;
  } catch {
    return false;
  }
};

const ruleSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('person_name'), first: fieldName, last: fieldName.optional() }),
  z.object({ type: z.literal('integer'), field: fieldName, min: z.number().int(), max: z.number().int(), label: z.string() }),
  z.object({ type: z.literal('text'), field: fieldName }),
  z.object({
    type: z.literal('lookup'),
    field: fieldName,
    label: z.string(),
    options: optionTable,
    // Values that already are lookup ids of this shape (e.g. location codes) pass through unchanged.
    id_pattern: z.string().refine(isRegExp, 'must be a valid regular expression').transform((p) => new RegExp(p)).optional(),
  }),
  z.object({ type: z.literal('narrative'), field: fieldName, other_value: z.string(), options: optionTable.default(() => []) }),
  yesNoRuleSchema(fieldName),
  // Written as prefix + category (e.g. "feedback-complaint") into an ID field Primero's ID search covers.
  z.object({ type: z.literal('category'), field: fieldName, prefix: z.string().default(''), options: optionTable, default: z.string() }),
]);

export type MappingRule = z.infer<typeof ruleSchema>;

export const referralSchema = z.object({
  transitioned_to: z.string().min(1),
  transitioned_to_agency: z.string().optional(),
  service: z.string().optional(),
  notes: z.string().default('Referred by the messaging gateway'),
});
export type ReferralTarget = z.infer<typeof referralSchema>;

const recordTarget = {
  record_type: z.enum(['case', 'incident']).default('case'),
  module_id: z.string().min(1),
  /** Fields every record of this kind gets, e.g. a fixed `name_first` so the list shows what it is. */
  static_fields: z.record(fieldName, z.unknown()).default({}),
};

/**
 * How a later report joins a record it did not create. `subform` (the default) PATCHes one subform entry per
 * report, keyed by a `unique_id` derived from the report's own reference: Primero merges subform arrays by
 * `unique_id` (app/services/record_merge_data_hash_service.rb), so appends need no read, no lock, and a retry
 * rewrites its own entry. `text_append` reads the text field and writes it back longer (needs read access to
 * the field, and one writer at a time): only for a deployment whose form has no usable subform.
 */
export const mergeTargetSchema = z.discriminatedUnion('mode', [
  z.object({
    mode: z.literal('subform'),
    subform: fieldName.default('notes_section'),
    subject_field: fieldName.default('note_subject'),
    text_field: fieldName.default('note_text'),
    date_field: fieldName.nullable().default('note_date'),
  }),
  z.object({ mode: z.literal('text_append') }),
]);
export type MergeTarget = z.infer<typeof mergeTargetSchema>;

const caseMappingShape = z.object({
  intent: z.enum(['referral', 'feedback']),
  ...recordTarget,
  reference_field: fieldName,
  phone_field: fieldName,
  // Free text and every value that fits no lookup land here, so nothing a child said is dropped.
  text_field: fieldName,
  safe_to_contact_field: fieldName.optional(), // where a yes_no rule stores "safe to contact": messages go out only on a clear yes there
  results: z.record(z.string(), ruleSchema),
  referral: referralSchema.nullable().default(null),
  merge_into: mergeTargetSchema.default({ mode: 'subform', subform: 'notes_section', subject_field: 'note_subject', text_field: 'note_text', date_field: 'note_date' }),
  /** Per category (see the `category` rule): another record type, module or fixed fields. */
  category_overrides: z
    .record(z.string(), z.object({ record_type: recordTarget.record_type.optional(), module_id: z.string().min(1).optional(), static_fields: recordTarget.static_fields.optional() }))
    .default({}),
});

/** The fields a rule writes at the top of the record (a yes_no rule's are its answer, true or false). */
const ruleFields = (r: MappingRule): string[] => (r.type === 'person_name' ? [r.first, ...(r.last ? [r.last] : [])] : r.type === 'yes_no' ? r.fields : [r.field]);

/**
 * Messages go to a person only on a clear yes in safe_to_contact_field, so only a yes_no rule may write it: a
 * fixed value, a lookup or the person's own words there could read as yes for a phone nobody said was safe.
 */
function checkSafeToContact(m: z.infer<typeof caseMappingShape>, ctx: z.RefinementCtx): void {
  const field = m.safe_to_contact_field;
  if (!field) return;
  const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['safe_to_contact_field'], message });
  const rules = Object.values(m.results);
  // Exactly one answer decides it: with two, a consent yes could overwrite "not safe", by the order of results.
  const writers = rules.filter((r) => r.type === 'yes_no' && r.fields.includes(field)).length;
  if (writers === 0) issue(`no yes_no rule of this mapping writes ${field}`);
  if (writers > 1) issue(`${writers} yes_no rules write ${field}; exactly one may`);
  const fixed = [m.static_fields, ...Object.values(m.category_overrides).map((o) => o.static_fields ?? {})].flatMap((f) => Object.keys(f));
  const others = [m.reference_field, m.phone_field, m.text_field, ...fixed, ...rules.filter((r) => r.type !== 'yes_no').flatMap(ruleFields)];
  if (others.includes(field)) issue(`${field} is also written by something other than a yes_no rule`);
}

const checkReservedFields = (m: z.infer<typeof caseMappingShape>, ctx: z.RefinementCtx): void =>
  reservedFieldIssues(m, ruleFields).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue }));

export const caseMappingSchema = caseMappingShape.superRefine(checkSafeToContact).superRefine(checkReservedFields);
export type CaseMapping = z.infer<typeof caseMappingSchema>;

export interface MappedCase {
  recordType: 'case' | 'incident';
  /** The `data` object for `POST /api/v2/cases` (or incidents). */
  data: Record<string, unknown>;
  /** Consent as the flow recorded it; false when the answer was missing or unclear. */
  consentGiven: boolean;
  /** The feedback category, when the mapping has a category rule. */
  category: string | null;
}

function matchOption(values: string[], options: OptionIndex): string | null {
  const candidates = values.map(foldText).filter((s) => s !== '');
  for (const { id, folded } of options) if (candidates.some((c) => folded.has(c))) return id;
  return null;
}

const resultValues = (r: FlowResult) => [r.category, r.value];

/**
 * The mapping's text field is a Primero `text_field` (protection_concerns_other is one): a single-line input,
 * where line breaks vanish and lines run together. Lines are joined, and breaks inside one replaced, with this.
 */
export const TEXT_SEPARATOR = ' | ';

function appendText(data: Record<string, unknown>, field: string, line: string): void {
  const current = typeof data[field] === 'string' ? (data[field] as string) : '';
  const flat = line.trim().replace(/\s*[\r\n]+\s*/g, TEXT_SEPARATOR);
  if (!flat) return;
  data[field] = current ? `${current}${TEXT_SEPARATOR}${flat}` : flat;
}

/**
 * The category of a message: from the flow's category result, or, for an SMS, from the first word of the
 * narrative ("FEEDBACK sea …"); the mapping's default otherwise. Pure, so ingest can use it too.
 */
export function categoryOf(message: Pick<InboundMessage, 'results' | 'text'>, mapping: CaseMapping): string | null {
  for (const [key, rule] of Object.entries(mapping.results)) {
    if (rule.type !== 'category') continue;
    const result = own(message.results, key);
    const firstWord = message.text?.trim().split(/\s+/)[0] ?? '';
    return (result ? matchOption(resultValues(result), rule.options) : matchOption([firstWord], rule.options)) ?? rule.default;
  }
  return null;
}

/** Pure: turns an envelope into the Primero record the mapping describes. */
export function buildCaseRecord(message: InboundMessage, mapping: CaseMapping, recordId: string): MappedCase {
  const category = categoryOf(message, mapping);
  const override = category ? own(mapping.category_overrides, category) : undefined;
  const data: Record<string, unknown> = {
    ...mapping.static_fields,
    ...(override?.static_fields ?? {}),
    id: recordId,
    module_id: override?.module_id ?? mapping.module_id,
    [mapping.reference_field]: message.reference,
  };
  const phone = phoneFromUrn(message.urn);
  if (phone) data[mapping.phone_field] = phone;
  const unmatched: string[] = [];
  let consentGiven = false;

  for (const [key, rule] of Object.entries(mapping.results)) {
    if (rule.type === 'category') {
      data[rule.field] = `${rule.prefix}${category}`;
      continue;
    }
    const result = own(message.results, key);
    const value = result?.value.trim() ?? '';
    if (!result || (value === '' && result.category.trim() === '')) continue;
    const consent = applyResult(rule, result, value, { data, unmatched, textField: mapping.text_field });
    if (consent !== null) consentGiven = consent;
  }
  if (message.text) appendText(data, mapping.text_field, message.text);
  for (const link of message.attachments) appendText(data, mapping.text_field, `Attachment: ${link}`);
  for (const line of unmatched) appendText(data, mapping.text_field, line);
  return { recordType: override?.record_type ?? mapping.record_type, data, consentGiven, category };
}

type ResultRule = Exclude<MappingRule, { type: 'category' }>;

/** Where one answer is written: the case's fields, and the lines the caseworker must read as text. */
type CaseDraft = { data: Record<string, unknown>; unmatched: string[]; textField: string };

/** Writes one flow answer into the case by its rule; for a consent question, whether consent was given (else null). */
function applyResult(rule: ResultRule, result: FlowResult, value: string, { data, unmatched, textField }: CaseDraft): boolean | null {
  switch (rule.type) {
    case 'person_name': {
      const [first, ...rest] = value.split(/\s+/);
      if (first) data[rule.first] = rest.length && rule.last ? first : value;
      if (rest.length && rule.last) data[rule.last] = rest.join(' ');
      return null;
    }
    case 'integer': {
      const n = /^\d{1,4}$/.test(value) ? Number(value) : NaN;
      if (Number.isInteger(n) && n >= rule.min && n <= rule.max) data[rule.field] = n;
      else unmatched.push(`${rule.label}: ${value}`);
      return null;
    }
    case 'text':
      if (value) data[rule.field] = value;
      return null;
    case 'lookup': {
      const id = matchOption(resultValues(result), rule.options) ?? (rule.id_pattern?.test(value) ? value : null);
      if (id) data[rule.field] = id;
      else unmatched.push(`${rule.label}: ${value || result.category}`);
      return null;
    }
    case 'narrative':
      data[rule.field] = [matchOption(resultValues(result), rule.options) ?? rule.other_value];
      if (value) appendText(data, textField, value);
      return null;
    case 'yes_no': {
      const { answer, whole } = readYesNo(value, result.category, rule.words, rule.consent);
      // Only a clear yes is a yes; anything else is recorded as no, and words that are more than the answer are
      // kept as text for the caseworker. A consent "no" is written too: a refusal is not a missing answer.
      const yes = answer === 'yes';
      for (const f of rule.fields) data[f] = yes;
      if (answer && !whole) unmatched.push(`${rule.label}: ${value}`);
      else if ((rule.note === 'always' || (rule.consent && answer === 'no')) && answer) unmatched.push(`${rule.label}: ${answer}`);
      else if (!answer) unmatched.push(`${rule.label}: ${value || result.category}`);
      return rule.consent ? yes : null;
    }
  }
}

/** The result keys a mapping reads; the flow export must write every one of them. */
export function resultKeysRead(mapping: CaseMapping): string[] {
  return Object.keys(mapping.results);
}
