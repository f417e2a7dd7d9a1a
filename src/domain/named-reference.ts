import { normaliseReference } from './reference';
import { referenceInText } from './sender-records';

/**
 * The reference a person named after a STATUS word, upper-cased: the whole text (`K7QM Z4XP`, `k7qm-z4xp`, also
 * goflow's word splitting of a dashed one), its first word (`K7QMZ4XP please`), or after REF. Null when none: a
 * bare STATUS, or words that are not a reference.
 */
export function referenceNamed(text: string | null | undefined): string | null {
  const t = text?.trim();
  if (!t) return null;
  return normaliseReference(t) ?? normaliseReference(t.split(/\s+/)[0]!) ?? referenceInText(t);
}
