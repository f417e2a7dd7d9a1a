import { createHash, createHmac } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * JSON with sorted keys, so two deliveries of the same content hash alike whatever their key order. Built
 * with an explicit stack, not recursion: a signed webhook body nested thousands deep (JSON.parse takes it)
 * must not overflow the call stack of whoever keeps it.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  // Either a value still to write, or literal text (a bracket, a comma, a key) queued behind it.
  const todo: Array<{ value: unknown } | string> = [{ value }];
  while (todo.length > 0) {
    const next = todo.pop()!;
    if (typeof next === 'string') {
      out.push(next);
      continue;
    }
    const v = next.value;
    if (Array.isArray(v)) {
      out.push('[');
      todo.push(']');
      for (let i = v.length - 1; i >= 0; i--) {
        // As JSON.stringify does: an array keeps its length, a hole or undefined is null.
        todo.push({ value: v[i] === undefined ? null : v[i] });
        if (i > 0) todo.push(',');
      }
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      out.push('{');
      todo.push('}');
      for (let i = entries.length - 1; i >= 0; i--) {
        todo.push({ value: entries[i]![1] }, `${JSON.stringify(entries[i]![0])}:`);
        if (i > 0) todo.push(',');
      }
    } else out.push(JSON.stringify(v) ?? 'null');
  }
  return out.join('');
}

/**
 * What a provider's message id is stored as (job payload, deduplication ledger, every view): a keyed hash,
 * because a WhatsApp wamid encodes the sender's number and a plain hash of it is brute-forced from a dump.
 * The key is the deployment's identifier-hash key (never in Redis), passed in so this stays pure.
 */
export function deduplicationId(key: Uint8Array, idempotencyKey: string): string {
  return createHmac('sha256', key).update(idempotencyKey, 'utf8').digest('hex');
}
