/**
 * A table entry by a key that came from outside: only own properties count, so "constructor", "__proto__" or
 * "toString" find nothing instead of Object.prototype's members.
 */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
