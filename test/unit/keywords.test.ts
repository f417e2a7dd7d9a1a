import path from 'node:path';
import { foldKeyword, keywordClassifier, replyText, withinOneEdit } from '../../src/domain/keywords';
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
