import { z } from 'zod';
import { foldText } from './text-fold';
import { own } from './own';
import { referenceNamed } from './named-reference';

export const KEYWORD_INTENTS = ['referral', 'feedback', 'optout', 'optin', 'status'] as const;
export type KeywordIntent = (typeof KEYWORD_INTENTS)[number];
export const REPLY_KINDS = [
  'referral', 'feedback', 'feedback_sensitive', 'unknown', 'optout', 'optin',
  // Two-way: a follow-up added to the sender's case; the STATUS answer (`status` lists `{list}`, one `status_<word>` per record).
  'follow_up', 'status', 'status_none', 'status_received', 'status_in_progress', 'status_closed',
] as const;
export type ReplyKind = (typeof REPLY_KINDS)[number];

const aliasList = z.array(z.string().min(1)).default([]);

export const keywordTableSchema = z
  .object({
    default_language: z.string().min(2),
    languages: z.record(
      z.string().min(2),
      z.object({ referral: aliasList, feedback: aliasList, optout: aliasList, optin: aliasList, status: aliasList }),
    ),
    replies: z.record(z.string().min(2), z.object(Object.fromEntries(REPLY_KINDS.map((k) => [k, z.string().min(1)])) as Record<ReplyKind, z.ZodString>)),
  })
  .refine((t) => t.replies[t.default_language] !== undefined, { message: 'default_language needs replies', path: ['replies'] });

export type KeywordTable = z.infer<typeof keywordTableSchema>;

export interface Classification {
  /** null: no keyword; the whole message is the narrative and becomes a referral for triage. */
  intent: KeywordIntent | null;
  language: string;
  narrative: string;
  /**
   * A STATUS word followed by a reference of letters only: a status question only if that reference is one of the
   * sender's own (the caller knows; eight letters may be words). Otherwise the message is what `intent` null says.
   */
  statusIfOwn?: { reference: string; language: string; narrative: string };
}

/**
 * Folding for matching: case, NFKC, Latin diacritics, punctuation, and the Arabic letter variants people
 * type interchangeably (alef forms, alef maqsura, taa marbuta, tatweel, harakat).
 */
const isArabicMarkOrTatweel = (ch: string) => {
  const c = ch.codePointAt(0)!;
  return c === 0x0640 || (c >= 0x064b && c <= 0x065f);
};

export function foldKeyword(s: string): string {
  const folded = Array.from(foldText(s))
    .filter((ch) => !isArabicMarkOrTatweel(ch))
    .join('');
  return folded
    .replace(/[\u0622\u0623\u0625]/g, '\u0627')
    .replace(/\u0649/g, '\u064a')
    .replace(/\u0629/g, '\u0647')
    .replace(/[\p{P}\p{S}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Damerau-Levenshtein distance, stopping early: only "is it at most 1" matters. */
export function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return true;
  const [la, lb] = [a.length, b.length];
  if (Math.abs(la - lb) > 1) return false;
  let i = 0;
  while (i < la && i < lb && a[i] === b[i]) i++;
  if (la === lb) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true; // substitution
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2); // transposition
  }
  return la > lb ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1); // deletion / insertion
}

interface Alias {
  words: string[];
  intent: KeywordIntent;
  language: string;
}

/**
 * "Hali ni mbaya nyumbani", "حالة طوارئ", "STATUS need help": a status word opening a message is often the start of a
 * cry for help. Words after it make a STATUS only when they are a reference with a digit in it: "NEEDHELP" and
 * "URGENTLY" are eight letters of the alphabet too. A reference of letters only is then read as a report, for triage.
 */
function namesReference(narrative: string): boolean {
  return /[0-9]/.test(referenceNamed(narrative) ?? '');
}

/** Builds the matcher once; the table is read at start. */
export function keywordClassifier(table: KeywordTable): (text: string) => Classification {
  const aliases: Alias[] = [];
  for (const [language, intents] of Object.entries(table.languages)) {
    for (const intent of KEYWORD_INTENTS) {
      for (const alias of intents[intent]) {
        const words = foldKeyword(alias).split(' ').filter(Boolean);
        if (words.length) aliases.push({ words, intent, language });
      }
    }
  }
  // Longer aliases first, so "help me" wins over "help" and the narrative starts after both words.
  aliases.sort((x, y) => y.words.length - x.words.length);
  const tolerant = (word: string, alias: string) => word === alias || (alias.length >= 4 && word.length >= 4 && withinOneEdit(word, alias));
  // A STATUS word is only ever taken as typed: one edit from "hali" are Swahili's "kali" and "mali", from "حالة"
  // Arabic's "حالا" ("right now"), words that open reports. A mistyped STATUS reaches triage instead: the safe side.
  const matches = (exact: boolean, a: Alias, word: string, w: string) => (exact || a.intent === 'status' ? word === w : tolerant(word, w));

  return (text: string): Classification => {
    const original = text.trim();
    const tokens = original.split(/\s+/).filter(Boolean);
    // Folded words, each remembering the original token it came from ("aidez-moi" gives two words).
    const words: Array<{ word: string; token: number }> = [];
    tokens.forEach((t, token) => {
      for (const word of foldKeyword(t).split(' ')) if (word) words.push({ word, token });
    });
    const find = (exact: boolean) =>
      aliases.find((a) => a.words.every((w, i) => words[i] !== undefined && matches(exact, a, words[i]!.word, w)));
    const match = find(true) ?? find(false);
    if (!match) return { intent: null, language: table.default_language, narrative: original };
    const lastToken = words[match.words.length - 1]!.token;
    // "Stop hitting me" is a cry for help, not an opt-out: STOP and START count only as the whole message.
    const control = match.intent === 'optout' || match.intent === 'optin';
    if (control && lastToken + 1 < tokens.length) return { intent: null, language: table.default_language, narrative: original };
    const narrative = tokens.slice(lastToken + 1).join(' ');
    const language = table.replies[match.language] ? match.language : table.default_language;
    if (match.intent === 'status' && narrative !== '' && !namesReference(narrative)) {
      const named = referenceNamed(narrative);
      return { intent: null, language: table.default_language, narrative: original, ...(named ? { statusIfOwn: { reference: named, language, narrative } } : {}) };
    }
    return { intent: match.intent, language, narrative };
  };
}

/** The acknowledgement: fixed text per language with only the reference filled in, never the sender's words. */
export function replyText(table: KeywordTable, language: string, kind: ReplyKind, reference: string | null): string {
  const replies = own(table.replies, language) ?? table.replies[table.default_language]!;
  return replies[kind].replace('{reference}', reference ?? '');
}
