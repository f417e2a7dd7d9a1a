import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { caseMappingSchema, type CaseMapping } from './domain/case-mapping';
import type { InboundMessage } from './domain/inbound-message';

export type MappingSet = Map<InboundMessage['intent'], CaseMapping>;

/** Reads `<dir>/*.mapping.json` once at start; a broken mapping stops the process with the file and field named. */
export function loadMappings(dir: string): MappingSet {
  const set: MappingSet = new Map();
  const files = readdirSync(dir).filter((f) => f.endsWith('.mapping.json')).sort();
  for (const file of files) {
    const full = path.join(dir, file);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(full, 'utf8'));
    } catch (err) {
      throw new Error(`${full}: not valid JSON (${(err as Error).message})`);
    }
    const parsed = caseMappingSchema.safeParse(raw);
    if (!parsed.success) {
      const lines = parsed.error.issues.map((i) => `${full}: ${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new Error(lines.join('\n'));
    }
    if (set.has(parsed.data.intent)) throw new Error(`${full}: a second mapping for intent "${parsed.data.intent}"`);
    set.set(parsed.data.intent, parsed.data);
  }
  return set;
}
