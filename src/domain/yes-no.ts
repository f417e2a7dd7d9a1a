import { z } from 'zod';
import { foldText } from './text-fold';

/**
 * An answer's words as the mapping folds them, with punctuation and symbols dropped ("¡Sí, sí!" → sí sí → si si).
 * Marks stay part of their word: Arabic ones are letters' parts, not separators.
 */
export const answerWords = (text: string): string[] => foldText(text).split(/[^\p{L}\p{M}\p{N}]+/u).filter((w) => w !== '');

/** A yes/no rule's words, each folded and reduced to its words once, when the mapping is read. */
export type YesNoWords = { yes: ReadonlySet<string>; no: ReadonlySet<string> };
export const yesNoWords = (yes: string[], no: string[]): YesNoWords => {
  const fold = (list: string[]) => new Set(list.map((w) => answerWords(w).join(' ')).filter((w) => w !== ''));
  return { yes: fold(yes), no: fold(no) };
};

/** "Sí, sí" and "yes yes" are a yes; a fourth word is a sentence, and a sentence is not a clear yes. */
const MAX_YES_WORDS = 3;

/**
 * A clear yes: the whole answer is a yes phrase, or one to three yes words and nothing else. "Si él lee mis
 * mensajes me pega" ("if he reads my messages he beats me") holds a yes word and is not one.
 */
export function isClearYes(answer: string, words: YesNoWords): boolean {
  const got = answerWords(answer);
  if (got.length === 0) return false;
  if (words.yes.has(got.join(' '))) return true;
  return got.length <= MAX_YES_WORDS && got.every((w) => words.yes.has(w));
}

/** Whether a no word or no phrase appears anywhere in the answer ("No, y no quiero", "Nunca… no"). */
export function hasNoWord(answer: string, words: YesNoWords): boolean {
  const got = answerWords(answer);
  if (got.some((w) => words.no.has(w))) return true;
  const padded = ` ${got.join(' ')} `;
  return [...words.no].some((phrase) => phrase.includes(' ') && padded.includes(` ${phrase} `));
}

/** The whole answer is no words only ("no", "hapana", "non non"): nothing else a caseworker would need to read. */
export function isClearNo(answer: string, words: YesNoWords): boolean {
  const got = answerWords(answer);
  return got.length > 0 && (words.no.has(got.join(' ')) || got.every((w) => words.no.has(w)));
}

export type YesNoAnswer = {
  /** 'yes' only for a clear yes; 'no' when the person said no; null when unclear or unanswered. */
  answer: 'yes' | 'no' | null;
  /** True when `answer` is all the person said, so a note may say just the answer instead of their words. */
  whole: boolean;
};

/**
 * Reads a yes/no answer from the person's words. The flow's category (goflow `has_any_word`, any one word of the
 * answer) may only confirm what the words say: it is consulted when there are no words at all, and, for
 * consent, when the words hold neither a no nor a clear yes (keeping consent as the flow routed it).
 */
export function readYesNo(value: string, category: string, words: YesNoWords, consent: boolean): YesNoAnswer {
  const byCategory = (): YesNoAnswer['answer'] => {
    const c = answerWords(category).join(' ');
    return words.no.has(c) ? 'no' : words.yes.has(c) ? 'yes' : null;
  };
  if (answerWords(value).length === 0) return { answer: byCategory(), whole: true };
  if (isClearYes(value, words)) return { answer: 'yes', whole: true };
  if (hasNoWord(value, words)) return { answer: 'no', whole: isClearNo(value, words) };
  if (consent) return { answer: byCategory(), whole: false };
  return { answer: byCategory() === 'no' ? 'no' : null, whole: false };
}

/** A mapping's yes_no rule; `fieldName` is the mapping's own Primero field-name schema. */
export const yesNoRuleSchema = (fieldName: z.ZodString) =>
  z
    .object({
      type: z.literal('yes_no'),
      fields: z.array(fieldName).default([]),
      label: z.string(),
      yes: z.array(z.string()).min(1),
      no: z.array(z.string()).min(1),
      // A consent answer gates referrals; only a clear yes counts.
      consent: z.boolean().default(false),
      // 'always': the answer is also written as a line of text (e.g. a callback request caseworkers must see).
      note: z.enum(['always', 'unclear']).default('unclear'),
    })
    .transform((rule) => ({ ...rule, words: yesNoWords(rule.yes, rule.no) }))
    // A word on both lists would make one answer both: "yes" can never be decided for it.
    .refine((rule) => [...rule.words.yes].every((w) => !rule.words.no.has(w)), { message: 'a word is on both the yes and the no list', path: ['yes'] });
