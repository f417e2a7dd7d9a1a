/**
 * Fields the gateway or Primero own on a created record, which no mapping may write: a fixed `id` would make every
 * create after the first a 409, read as "already made", and every later report lost; `case_id` is unique in Primero
 * (cases_case_id_unique_idx); `module_id` has its own setting; display ids are Primero's to make.
 */
export const RESERVED_RECORD_FIELDS: readonly string[] = ['id', 'module_id', 'case_id', 'case_id_display', 'short_id', 'unique_identifier', 'incident_id'];

/** What of a mapping writes fields at the top of the record (its rules' fields are read by `fieldsOf`). */
interface WritingMapping<R> {
  static_fields: Record<string, unknown>;
  category_overrides: Record<string, { static_fields?: Record<string, unknown> | undefined }>;
  results: Record<string, R>;
  reference_field: string;
  phone_field: string;
  text_field: string;
  safe_to_contact_field?: string | undefined;
}

/** Every place a mapping would write a reserved field, as a validation issue naming it. */
export function reservedFieldIssues<R>(m: WritingMapping<R>, fieldsOf: (rule: R) => string[]): Array<{ path: string[]; message: string }> {
  const written: Array<[string[], string[]]> = [
    [['static_fields'], Object.keys(m.static_fields)],
    ...Object.entries(m.category_overrides).map(([c, o]): [string[], string[]] => [['category_overrides', c, 'static_fields'], Object.keys(o.static_fields ?? {})]),
    ...Object.entries(m.results).map(([k, r]): [string[], string[]] => [['results', k], fieldsOf(r)]),
    ...(['reference_field', 'phone_field', 'text_field', 'safe_to_contact_field'] as const).map((k): [string[], string[]] => [[k], m[k] ? [m[k]!] : []]),
  ];
  return written.flatMap(([path, fields]) => fields.filter((f) => RESERVED_RECORD_FIELDS.includes(f)).map((f) => ({ path, message: `${f} is set by the gateway or by Primero, never by a mapping` })));
}
