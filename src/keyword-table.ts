import { readFileSync } from 'node:fs';
import { keywordTableSchema, type KeywordTable } from './domain/keywords';

/** Reads the programme's keyword and reply tables at start; a broken file stops the gateway, naming the field. */
export function loadKeywordTable(file: string): KeywordTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot be read as JSON (${(err as Error).message})`);
  }
  const parsed = keywordTableSchema.safeParse(raw);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n'));
  return parsed.data;
}
