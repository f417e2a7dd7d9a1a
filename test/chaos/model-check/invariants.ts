import type { FakeRecord } from './fake-primero';
import type { Message, Run } from './schedule';
import type { World } from './world';

const TEXT_FIELD = 'protection_concerns_other';
const ok = (s: number | null) => s !== null && s >= 200 && s < 300;

/** The reports a record holds: the first in its text field, each merged one as a notes_section entry. */
function segmentsOf(record: FakeRecord): string[] {
  const text = record.data[TEXT_FIELD];
  const notes = Array.isArray(record.data.notes_section) ? (record.data.notes_section as Array<{ note_text?: unknown }>) : [];
  return [...(typeof text === 'string' && text ? [text] : []), ...notes.map((n) => String(n.note_text ?? ''))];
}

/**
 * Checks a quiesced world against what the schedule was told. Returns the broken promises, each naming
 * the message by its index in the schedule (never by its words).
 */
export async function violations(world: World, run: Run): Promise<string[]> {
  const out: string[] = [];
  const records = [...world.primero.records.values()];
  const deadLetters = await world.deadLetters();
  const deadRefs = new Set(deadLetters.map((d) => d.reference));
  // A merged report that wrote to its record unanswered and then met a 403 is kept for an operator, its words perhaps
  // in the record: such a dead letter accounts for the one report whose words it holds, and for no other.
  const keptUnconfirmed = new Set<Message>();
  for (const d of deadLetters.filter((x) => x.error.startsWith('merge_unconfirmed:'))) {
    const payload = await world.deadLetterPayload(d.id);
    const held = run.messages.filter((m) => !m.simulated && !keptUnconfirmed.has(m) && payload.includes(JSON.stringify(m.text).slice(1, -1))).sort((a, b) => b.text.length - a.text.length);
    if (held[0]) keptUnconfirmed.add(held[0]);
  }
  const byRef = new Map<string, FakeRecord[]>();
  for (const r of records) {
    const ref = String(r.data.other_agency_id ?? '');
    byRef.set(ref, [...(byRef.get(ref) ?? []), r]);
  }
  const name = (m: Message) => `message #${run.messages.indexOf(m)} (${m.intent}${m.simulated ? ', simulated' : ''})`;
  const real = run.messages.filter((m) => !m.simulated);

  // Answers: one reference per acceptance; every delivery after the first answer is a duplicate of it.
  const refOf = new Map<Message, string>();
  for (const m of real) {
    const answered = m.deliveries.filter((d) => ok(d.status));
    const refs = new Set(answered.map((d) => d.reference));
    if (refs.size > 1) out.push(`${name(m)} was answered ${refs.size} different references for one acceptance`);
    const first = answered.reduce<(typeof answered)[number] | undefined>((a, d) => (!a || d.at < a.at ? d : a), undefined);
    if (first?.reference) refOf.set(m, first.reference);
    for (const d of answered) if (first && d.sentAt > first.at && d.duplicate !== true) out.push(`${name(m)}: a re-delivery inside the window was not answered duplicate: true`);
    if (m.deliveries.some((d) => !ok(d.status) && d.status !== 503)) out.push(`${name(m)} got a ${m.deliveries.map((d) => d.status).join('/')} answer`);
  }

  // Records: each acknowledged reference has exactly one, holding every report answered with it.
  const acknowledged = new Set(refOf.values());
  // A merged report whose earlier record left the API user's scope is filed alone, under its own reference: one
  // record that no acknowledged reference names holds its words, and no other report takes that record. Reports
  // with the same words (a new RapidPro run of the same answers) are told apart by count, not by which record:
  // each takes one such record, the tightest first, and a record none of them takes is reported below.
  const filedAlone = new Set<FakeRecord>();
  const fileAlone = (m: Message): boolean => {
    const holding = (r: FakeRecord) => segmentsOf(r).filter((s) => s.includes(m.text)).reduce((n, s) => Math.min(n, s.length), Infinity);
    const own = records
      .filter((r) => !acknowledged.has(String(r.data.other_agency_id ?? '')) && !filedAlone.has(r) && holding(r) < Infinity)
      .sort((a, b) => holding(a) - holding(b));
    if (own.length === 0) return false;
    filedAlone.add(own[0]!);
    return true;
  };
  for (const ref of acknowledged) {
    const group = real.filter((m) => refOf.get(m) === ref);
    const found = byRef.get(ref) ?? [];
    if (found.length === 0) {
      if (!(run.refusals && deadRefs.has(ref))) out.push(`${group.map(name).join(', ')}: answered 2xx, but no Primero record carries its reference${deadRefs.has(ref) ? ' (it is a dead letter, though Primero refused nothing)' : ''}`);
      continue;
    }
    if (found.length > 1) out.push(`${group.map(name).join(', ')}: ${found.length} Primero records carry one reference`);
    const record = found[0]!;
    // Primero refused one of these reports (a dead letter under this reference): its words may be missing.
    const refused = run.refusals && deadRefs.has(ref);
    if (group[0]!.intent === 'feedback') {
      const free = segmentsOf(record);
      // Longest words first, each taking the tightest report that holds them: a prefix cannot hide in a longer report.
      for (const m of [...group].sort((a, b) => b.text.length - a.text.length)) {
        const fits = free.map((s, i) => [s, i] as const).filter(([s]) => s.includes(m.text)).sort((a, b) => a[0].length - b[0].length);
        if (fits.length) free.splice(fits[0]![1], 1);
        else if (run.outOfScope && fileAlone(m)) continue;
        else if (keptUnconfirmed.has(m)) continue;
        else if (!refused) out.push(`${name(m)}: answered 2xx, but its words are not in the record (merged reports: ${group.length}, reports held: ${segmentsOf(record).length})`);
      }
      if (free.length) out.push(`record of ${name(group[0]!)} holds ${free.length} report(s) no acknowledged message accounts for`);
    } else if (!group.every((m) => JSON.stringify(record.data).includes(m.text))) {
      out.push(`${name(group[0]!)}: the record does not hold the referral's words`);
    }
    if (record.referrals.length > 1) out.push(`${name(group[0]!)}: referred ${record.referrals.length} times`);
    if (group[0]!.intent === 'referral' && record.referrals.length === 0 && !refused) out.push(`${name(group[0]!)}: consent given but never referred`);
  }

  // Nothing unacknowledged reached Primero (a 503 means nothing will be processed).
  // The fake Primero is emptied before each schedule: every record in it came from this one.
  for (const r of records) {
    const ref = String(r.data.other_agency_id ?? '');
    if (acknowledged.has(ref) || filedAlone.has(r)) continue;
    const m = run.messages.find((x) => JSON.stringify(r.data).includes(x.text));
    out.push(`a Primero record exists for ${m ? name(m) : 'an unknown message'}, whose answers were ${m ? m.deliveries.map((d) => d.status).join('/') : '?'} and never carried its reference`);
  }
  for (const m of run.messages.filter((x) => x.simulated)) {
    if (!m.deliveries.every((d) => ok(d.status) && d.reference)) out.push(`${name(m)} was not answered 2xx with a reference`);
  }

  // Dead letters an operator has not replayed or discarded are all still there.
  const present = new Set(deadLetters.map((d) => d.id));
  for (const [id] of run.deadLetters) if (!present.has(id)) out.push(`dead letter ${id} vanished without being replayed or discarded`);
  return out;
}
