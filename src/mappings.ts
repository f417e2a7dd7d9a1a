import { readdirSync } from 'node:fs';
import path from 'node:path';
import { loadDataFile } from './data-files';
import { caseMappingSchema, type CaseMapping } from './domain/case-mapping';
import type { InboundMessage } from './domain/inbound-message';

export type MappingSet = Map<InboundMessage['intent'], CaseMapping>;

/** Reads `<dir>/*.mapping.json` once at start; a broken mapping stops the process with the file and field named. */
export function loadMappings(dir: string): MappingSet {
  const set: MappingSet = new Map();
  const files = readdirSync(dir).filter((f) => f.endsWith('.mapping.json')).sort();
  for (const file of files) {
    const full = path.join(dir, file);
    const mapping = loadDataFile(full, caseMappingSchema, { unreadable: 'not valid JSON', root: '(root)' });
    if (set.has(mapping.intent)) throw new Error(`${full}: a second mapping for intent "${mapping.intent}"`);
    set.set(mapping.intent, mapping);
  }
  return set;
}

/** Whether any mapping creates incidents, as its record type or a category's: only then does the poller search them. */
export function createsIncidents(set: MappingSet): boolean {
  return [...set.values()].some((m) => m.record_type === 'incident' || Object.values(m.category_overrides).some((o) => o.record_type === 'incident'));
}
