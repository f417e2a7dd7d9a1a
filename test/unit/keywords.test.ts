import path from 'node:path';
import { foldKeyword, KEYWORD_INTENTS, keywordClassifier, REPLY_KINDS, replyText, withinOneEdit } from '../../src/domain/keywords';
import { referenceNamed } from '../../src/domain/named-reference';
import type { SenderRecord } from '../../src/domain/sender-records';
import { STATUS_LIST_MAX, statusReplyText } from '../../src/domain/status-reply';
import { loadKeywordTable } from '../../src/keyword-table';

const table = loadKeywordTable(path.join(__dirname, '..', '..', 'flows', 'keywords.json'));
const classify = keywordClassifier(table);

describe('keyword classification', () => {
  it.each([
    ['HELP my uncle hits me', 'referral', 'eng', 'my uncle hits me'],
    ['Aide, je suis seule', 'referral', 'fra', 'je suis seule'],
    ['ayuda por favor', 'referral', 'spa', 'por favor'],
    ['AJUDA', 'referral', 'por', ''],
    ['msaada nipo hatarini', 'referral', 'swa', 'nipo hatarini'],
    ['مساعدة أنا في خطر', 'referral', 'ara', 'أنا في خطر'],
    ['FEEDBACK the clinic was closed', 'feedback', 'eng', 'the clinic was closed'],
    ['Plainte: personne ne répond', 'feedback', 'fra', 'personne ne répond'],
    ['queja', 'feedback', 'spa', ''],
    ['RECLAMAÇÃO o centro fechou', 'feedback', 'por', 'o centro fechou'],
    ['maoni asante', 'feedback', 'swa', 'asante'],
    ['شكوى', 'feedback', 'ara', ''],
    ['STOP', 'optout', 'eng', ''],
    ['Arrêt', 'optout', 'fra', ''],
    ['start', 'optin', 'eng', ''],
  ])('%s → %s in %s', (text, intent, language, narrative) => {
    expect(classify(text)).toEqual({ intent, language, narrative });
  });

  it('folds case, accents and full-width forms', () => {
    expect(classify('ＡＹＵＤＡ ya').intent).toBe('referral');
    expect(classify('reclamacao').language).toBe('por');
    expect(classify('ARRÊTER').intent).toBe('optout');
  });

  it('tolerates one typo in keywords of four letters or more, not in shorter ones', () => {
    expect(classify('HLEP me').intent).toBe('referral'); // transposition
    expect(classify('msaaada').intent).toBe('referral'); // insertion
    expect(classify('feedbak').intent).toBe('feedback'); // deletion
    expect(classify('quexa').intent).toBe('feedback'); // substitution
    expect(classify('sos').intent).toBe('referral');
    expect(classify('sod please').intent).toBeNull();
  });

  it('matches multi-word keywords and keeps the rest as the narrative', () => {
    expect(classify('aidez-moi vite')).toEqual({ intent: 'referral', language: 'fra', narrative: 'vite' });
    expect(classify('help me now')).toEqual({ intent: 'referral', language: 'eng', narrative: 'now' });
  });

  it('takes STOP and START only as the whole message: "stop hitting me" is a message, not an opt-out', () => {
    expect(classify('Stop hitting me')).toEqual({ intent: null, language: 'eng', narrative: 'Stop hitting me' });
    expect(classify('stop!').intent).toBe('optout');
  });

  it('keeps a message with no keyword whole, for triage, in the default language', () => {
    expect(classify('my father beats me')).toEqual({ intent: null, language: 'eng', narrative: 'my father beats me' });
  });

  it('folds Arabic letter variants', () => {
    expect(foldKeyword('ابدأ')).toBe(foldKeyword('ابدا'));
    expect(classify('ابدأ').intent).toBe('optin');
  });

  it('replies in the keyword language with only the reference filled in', () => {
    expect(replyText(table, 'fra', 'referral', 'ABCD2345')).toContain('Votre référence est ABCD2345');
    expect(replyText(table, 'xxx', 'unknown', 'ABCD2345')).toContain('Send HELP');
  });

  it('measures one edit correctly', () => {
    expect(withinOneEdit('help', 'hlep')).toBe(true);
    expect(withinOneEdit('help', 'hepl')).toBe(true);
    expect(withinOneEdit('help', 'hxlx')).toBe(false);
    expect(withinOneEdit('help', 'helps')).toBe(true);
    expect(withinOneEdit('help', 'he')).toBe(false);
  });
});

describe('STATUS', () => {
  it.each([
    ['STATUS', 'eng'],
    ['Statut', 'fra'],
    ['suivi', 'fra'],
    ['ESTADO', 'spa'],
    ['Situação', 'por'],
    ['hali', 'swa'],
    ['حالة', 'ara'],
  ])('%s asks for the status of the sender\'s reports, answered in %s', (text, language) => {
    expect(classify(text)).toEqual({ intent: 'status', language, narrative: '' });
  });

  it('keeps a reference typed after the word, in any of the ways people type one', () => {
    expect(classify('status K7QMZ4XP')).toEqual({ intent: 'status', language: 'eng', narrative: 'K7QMZ4XP' });
    expect(classify('statut k7qm-z4xp').narrative).toBe('k7qm-z4xp');
    expect(classify('hali K7QM Z4XP').intent).toBe('status');
    expect(classify('STATUS ref K7QMZ4XP please').intent).toBe('status');
  });

  it('takes a STATUS word only as typed: one edit away are words that open reports', () => {
    for (const text of ['Kali', 'Mali', 'حالا', 'Kali sana nyumbani', 'statsu K7QMZ4XP']) expect(classify(text).intent).not.toBe('status');
  });

  it('takes a STATUS word followed by words that are no reference with a digit as a report: it may be a cry for help', () => {
    for (const text of [
      'Estado de los refugiados, necesitamos ayuda',
      'Estado: soy refugiada y mi esposo me pega',
      'Situação dos refugiados é grave, precisamos de ajuda',
      'STATUS need help',
      'Status urgently need help my father beats me',
      'STATUS NEEDHELP',
    ]) {
      expect(classify(text)).toMatchObject({ intent: null, language: 'eng', narrative: text });
    }
    expect(classify('STATUS K7QMZ4XP urgently').intent).toBe('status');
  });

  it('marks a STATUS word followed by letters that read as a reference as a question only if the reference is the sender\'s own (the caller checks)', () => {
    expect(classify('STATUS NEEDHELP')).toEqual({ intent: null, language: 'eng', narrative: 'STATUS NEEDHELP', statusIfOwn: { reference: 'NEEDHELP', language: 'eng', narrative: 'NEEDHELP' } });
    expect(classify('Estado de los refugiados, necesitamos ayuda').statusIfOwn).toBeUndefined();
  });

  it.each([
    ['K7QMZ4XP', 'K7QMZ4XP'],
    ['k7qm-z4xp', 'K7QMZ4XP'],
    ['K7QM Z4XP', 'K7QMZ4XP'],
    ['K7QMZ4XP asante', 'K7QMZ4XP'],
    ['ref: k7qmz4xp', 'K7QMZ4XP'],
    ['please', null],
    ['K7QMZ4X0', null], // 0 is not in the alphabet: a misread reference names none
    ['', null],
  ])('reads %j after STATUS as the reference %s', (text, reference) => {
    expect(referenceNamed(text)).toBe(reference);
  });

  it('takes a status word followed by other words as a report, not a question: it may be a cry for help', () => {
    for (const text of ['Hali ni mbaya nyumbani', 'حالة طوارئ في البيت', 'estado de emergencia en casa', 'status of my case please']) {
      expect(classify(text)).toEqual({ intent: null, language: 'eng', narrative: text });
    }
  });

  it('has no STATUS word a typo away from another intent\'s keyword, so a mistyped HELP or STOP never turns into a question', () => {
    const all = Object.entries(table.languages).flatMap(([language, intents]) =>
      KEYWORD_INTENTS.flatMap((intent) => intents[intent].map((alias) => ({ language, intent, word: foldKeyword(alias) }))),
    );
    const near = (a: string, b: string) => a === b || (a.length >= 4 && b.length >= 4 && withinOneEdit(a, b));
    const clashes = all.flatMap((x) => all.filter((y) => x.intent === 'status' && y.intent !== 'status' && near(x.word, y.word)).map((y) => `${x.word}~${y.word}`));
    expect(clashes).toEqual([]);
    expect(all.filter((x) => x.intent === 'status').map((x) => x.language).sort()).toEqual(expect.arrayContaining(Object.keys(table.replies).sort()));
  });
});

/** GSM 03.38: the characters one 7-bit SMS unit carries, and those that take two (the escape table). */
const GSM_BASIC = new Set(Array.from('@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà'));
const GSM_ESCAPED = new Set(Array.from('^{}\\[~]|€'));
function smsSegments(text: string): number {
  const chars = Array.from(text);
  if (chars.every((c) => GSM_BASIC.has(c) || GSM_ESCAPED.has(c))) {
    const units = chars.reduce((n, c) => n + (GSM_ESCAPED.has(c) ? 2 : 1), 0);
    return units <= 160 ? 1 : Math.ceil(units / 153);
  }
  return text.length <= 70 ? 1 : Math.ceil(text.length / 67);
}

describe('the reply texts', () => {
  const languages = Object.keys(table.replies);

  it('are in all six languages, every kind, and translated: no language answers in English', () => {
    expect(languages.sort()).toEqual(['ara', 'eng', 'fra', 'por', 'spa', 'swa']);
    for (const l of languages) for (const kind of REPLY_KINDS) expect(table.replies[l]![kind].trim()).not.toBe('');
    for (const l of languages.filter((x) => x !== 'eng')) for (const kind of REPLY_KINDS) expect(`${l} ${kind}: ${table.replies[l]![kind]}`).not.toBe(`${l} ${kind}: ${table.replies.eng![kind]}`);
  });

  it('name the reference where there is one and the list where it goes, and nothing else to fill in', () => {
    for (const l of languages) {
      const r = table.replies[l]!;
      for (const kind of ['referral', 'feedback', 'feedback_sensitive', 'unknown', 'follow_up', 'status_received', 'status_in_progress', 'status_closed'] as const) {
        expect(`${l} ${kind} ${r[kind].split('{reference}').length - 1}`).toBe(`${l} ${kind} 1`);
      }
      expect(r.status.split('{list}')).toHaveLength(2);
      expect(r.status).not.toContain('{reference}');
      expect(r.status_none).not.toMatch(/\{\w+\}/);
      for (const kind of REPLY_KINDS) expect(r[kind].replace(/\{reference\}|\{list\}/g, '')).not.toMatch(/[{}]/);
    }
  });

  it('tell someone who sent no keyword, in their language, that STATUS exists', () => {
    for (const l of languages) {
      const word = foldKeyword(table.languages[l]!.status[0]!);
      expect(foldKeyword(table.replies[l]!.unknown)).toContain(word);
    }
  });

  it('tell someone with no report to show how to ask for help, with the keyword the gateway reads in that language', () => {
    for (const l of languages) expect(foldKeyword(table.replies[l]!.status_none)).toContain(foldKeyword(table.languages[l]!.referral[0]!));
  });

  const record = (n: number, snapshot: SenderRecord['snapshot']): SenderRecord => ({
    reference: `K7QMZ${n}XP`.slice(0, 8).padEnd(8, 'X'),
    recordType: 'case', recordId: `r${n}`, caseIdDisplay: null, intent: 'referral', sensitive: false,
    createdAt: new Date(Date.UTC(2026, 0, n + 1)).toISOString(), snapshot,
  });
  const SNAPSHOTS: Record<string, SenderRecord['snapshot']> = {
    received: null,
    in_progress: { status: 'open', workflow: 'case_plan', ownedBy: 'cp_worker', assignedUserNames: [] },
    closed: { status: 'closed', workflow: 'closed', ownedBy: 'cp_worker', assignedUserNames: [] },
  };

  it('never lists a record whose reporter said it is not safe to contact them, even when its reference is named', () => {
    const safe = record(2, null);
    const notSafe = { ...record(3, null), safeToContact: false };
    expect(statusReplyText(table, 'eng', [notSafe, safe], null, 'sms_gateway')).toBe(statusReplyText(table, 'eng', [safe], null, 'sms_gateway'));
    expect(statusReplyText(table, 'eng', [notSafe, safe], notSafe.reference, 'sms_gateway')).toBe(replyText(table, 'eng', 'status_none', null));
  });

  it('never lists a record whose last look could not confirm the safe-to-contact answer (a caseworker the gateway cannot read may have said no)', () => {
    const safe = record(2, null);
    const unconfirmed = { ...record(3, null), safeToContact: true, safeUnconfirmed: true };
    expect(statusReplyText(table, 'eng', [unconfirmed, safe], null, 'sms_gateway')).toBe(statusReplyText(table, 'eng', [safe], null, 'sms_gateway'));
    expect(statusReplyText(table, 'eng', [unconfirmed, safe], unconfirmed.reference, 'sms_gateway')).toBe(replyText(table, 'eng', 'status_none', null));
  });

  it.each(['eng', 'fra', 'spa', 'por', 'swa', 'ara'])('in %s, the longest STATUS answer (five records) fits in two SMS segments', (l) => {
    for (const [word, snapshot] of Object.entries(SNAPSHOTS)) {
      const records = Array.from({ length: STATUS_LIST_MAX }, (_, i) => record(i + 2, snapshot));
      const text = statusReplyText(table, l, records, null, 'sms_gateway');
      expect(text.split('; ')).toHaveLength(STATUS_LIST_MAX);
      expect(`${l} ${word}: ${smsSegments(text)}`).toBe(`${l} ${word}: ${Math.min(smsSegments(text), 2)}`);
    }
  });
});
