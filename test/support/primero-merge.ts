/**
 * How Primero applies a PATCH's `data` to a record (primeroIMS/primero app/services/record_merge_data_hash_service.rb,
 * behaviour re-stated here, not its code): objects merge key by key; arrays of objects (subforms) merge by
 * `unique_id` (a known id merges into its entry, a new one is appended, `_destroy: true` removes it, entries
 * without an id are kept); anything else, strings and string arrays included, is replaced.
 */
type Data = Record<string, unknown>;

const isObject = (v: unknown): v is Data => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSubform = (v: unknown): v is Data[] => Array.isArray(v) && (v.length === 0 || isObject(v[0]));

export function primeroMerge(old: unknown, incoming: unknown): unknown {
  if (isObject(old) && isObject(incoming)) {
    const out: Data = { ...old };
    for (const [k, v] of Object.entries(incoming)) out[k] = k in old ? primeroMerge(old[k], v) : v;
    return out;
  }
  if (isSubform(old) && isSubform(incoming)) {
    const merged = old.map((entry) => {
      const match = entry.unique_id === undefined ? undefined : incoming.find((n) => n.unique_id === entry.unique_id);
      return match ? (primeroMerge(entry, match) as Data) : entry;
    });
    const added = incoming.filter((n) => !merged.some((e) => e.unique_id === n.unique_id));
    return [...merged, ...added].filter((e) => e._destroy !== true);
  }
  return incoming;
}
