/**
 * Folds case, Unicode compatibility forms and Latin diacritics ("Oui", "OUI", "oùi" compare equal). Only
 * the Latin combining range is stripped: marks in other scripts can change the letter.
 */
export function foldText(s: string): string {
  return s
    .normalize('NFKC')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .trim();
}
