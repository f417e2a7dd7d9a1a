import { CASEWORKER_OUTCOMES, gateOutcome, isClearYes, noteNow, outcomeNoteEntry, outcomeNoteId, outcomeSubject, reporterNotesOf, type GateFacts } from '../../src/domain/reporter-notes';
import { foldText } from '../../src/domain/text-fold';
import { expectNoPersonalData } from '../support/personal-data';

const SUBJECT = 'Message to reporter';
const note = (over: Record<string, unknown> = {}) => ({ unique_id: 'n-1', note_subject: SUBJECT, note_text: 'Please call the office', note_created_by: 'cp_worker', ...over });

describe('reporterNotesOf: the notes a caseworker addressed to the person', () => {
  it('matches the whole subject, ignoring case and accents', () => {
    expect(reporterNotesOf([note({ note_subject: '  MESSAGE TO REPORTÉR ' })], SUBJECT)).toEqual([{ noteId: 'n-1', text: 'Please call the office', author: 'cp_worker' }]);
    expect(reporterNotesOf([note({ note_subject: 'Message to reporter later' }), note({ note_subject: 'Re: Message to reporter' })], SUBJECT)).toEqual([]);
  });

  it('takes only notes with an id and some text, and no note list that is not one', () => {
    expect(reporterNotesOf([note({ unique_id: undefined }), note({ note_text: '   ' }), note({ unique_id: 'x'.repeat(201) }), 'text', null], SUBJECT)).toEqual([]);
    expect(reporterNotesOf({ unique_id: 'n-1' }, SUBJECT)).toEqual([]);
    expect(reporterNotesOf(undefined, SUBJECT)).toEqual([]);
  });

  it('keeps a note without an author as one with none (the sensitive gate then refuses it)', () => {
    expect(reporterNotesOf([note({ note_created_by: '' })], SUBJECT)[0]!.author).toBeNull();
  });
});

describe('noteNow: the note as the record holds it at send time', () => {
  it('finds the note by its id, and tells a removed note from a re-titled one and from an unreadable form', () => {
    expect(noteNow([note({ note_text: 'Corrected words' })], 'n-1', SUBJECT)).toEqual({ is: 'current', note: { noteId: 'n-1', text: 'Corrected words', author: 'cp_worker' } });
    expect(noteNow([note({ unique_id: 'n-2' })], 'n-1', SUBJECT)).toEqual({ is: 'removed' });
    expect(noteNow([note({ note_subject: 'Interview notes' })], 'n-1', SUBJECT)).toEqual({ is: 'changed' });
    expect(noteNow([note({ note_text: ' ' })], 'n-1', SUBJECT)).toEqual({ is: 'changed' });
    expect(noteNow(undefined, 'n-1', SUBJECT)).toEqual({ is: 'unreadable' });
  });
});

describe('the outcome note', () => {
  const at = new Date('2026-12-02T06:30:12Z');

  it('never folds equal to the subject, whatever the outcome, so it is never itself sent', () => {
    for (const outcome of CASEWORKER_OUTCOMES) {
      const entry = outcomeNoteEntry(SUBJECT, outcome, at, { recordId: 'r-1', noteId: 'n-1', reference: 'K7M2P9QA' });
      expect(reporterNotesOf([{ ...entry, note_created_by: 'sms_gateway' }], SUBJECT)).toEqual([]);
      expect(foldText(entry.note_subject).startsWith(foldText(SUBJECT))).toBe(true);
    }
  });

  it('says when it was sent, in UTC, and keeps one id per note so a retry rewrites it', () => {
    expect(outcomeSubject(SUBJECT, 'sent', at)).toBe('Message to reporter: sent 2026-12-02 06:30 UTC');
    expect(outcomeSubject(SUBJECT, 'not_safe', at)).toBe('Message to reporter: not sent: contact not marked safe');
    expect(outcomeNoteId('r-1', 'n-1')).toBe(outcomeNoteId('r-1', 'n-1'));
    expect(outcomeNoteId('r-1', 'n-1')).not.toBe(outcomeNoteId('r-1', 'n-2'));
    expect(outcomeNoteId('r-1', 'n-1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('the send-time gates', () => {
  const open: GateFacts = { sensitive: false, author: 'cp_worker', sensitiveAllowed: ['psea_fp'], optedOut: false, safeToContact: true, hasSender: true, hasAddress: true };

  it('lets a note go only on a clear yes to "safe to contact"', () => {
    for (const yes of [true, 'true', 'Yes', ' YES ']) expect(isClearYes(yes)).toBe(true);
    for (const no of [false, 'false', 'no', '', 'maybe', 1, null, undefined, ['yes']]) expect(isClearYes(no)).toBe(false);
    expect(gateOutcome(open)).toBeNull();
    expect(gateOutcome({ ...open, safeToContact: undefined })).toBe('not_safe');
  });

  it('stops a sensitive record unless its author is an allowed focal point', () => {
    expect(gateOutcome({ ...open, sensitive: true })).toBe('sensitive');
    expect(gateOutcome({ ...open, sensitive: true, author: null })).toBe('sensitive');
    expect(gateOutcome({ ...open, sensitive: true, author: 'psea_fp' })).toBeNull();
  });

  it('says the first reason that stops it: sensitive, opted out, unsafe, no channel, no address', () => {
    const closed: GateFacts = { sensitive: true, author: 'x', sensitiveAllowed: [], optedOut: true, safeToContact: false, hasSender: false, hasAddress: false };
    expect(gateOutcome(closed)).toBe('sensitive');
    expect(gateOutcome({ ...closed, sensitive: false })).toBe('opted_out');
    expect(gateOutcome({ ...closed, sensitive: false, optedOut: false })).toBe('not_safe');
    expect(gateOutcome({ ...closed, sensitive: false, optedOut: false, safeToContact: 'yes' })).toBe('no_channel');
    expect(gateOutcome({ ...closed, sensitive: false, optedOut: false, safeToContact: 'yes', hasSender: true })).toBe('no_address');
  });

  it('writes nothing of the note into the outcome note', () => {
    const entry = outcomeNoteEntry(SUBJECT, 'sent', new Date(), { recordId: 'r-1', noteId: 'n-1', reference: 'K7M2P9QA' });
    expectNoPersonalData(JSON.stringify(entry), ['Please call the office']);
  });
});
