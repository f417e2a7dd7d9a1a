/**
 * Fails when any of `values` (a child's name, number or words, a secret the test handled) appears in `text`:
 * what the gateway logged, or anything else it sent out. The failure names the values found, not the whole log.
 */
export function expectNoPersonalData(text: string | readonly string[], values: ReadonlyArray<string | RegExp>): void {
  const all = typeof text === 'string' ? text : text.join('\n');
  const found = values.filter((v) => (typeof v === 'string' ? all.includes(v) : v.test(all))).map(String);
  expect(found).toEqual([]);
}
