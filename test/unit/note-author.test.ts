import { lastNoteChange } from '../../src/domain/note-author';

const note = (over: Record<string, unknown> = {}) => ({ unique_id: 'n-1', note_subject: 'Message to reporter', note_text: 'Come on Tuesday', note_created_by: 'psea_fp', ...over });
const save = (user: string, from: unknown[], to: unknown[], other: Record<string, unknown>[] = []) => ({ user_name: user, action: 'update', record_changes: [...other, { notes_section: { from, to } }] });

describe("lastNoteChange: who last changed a note's words, from Primero's record history (newest first)", () => {
  it('is the user of the newest save that changed the words, whatever note_created_by says', () => {
    const history = [save('sms_gateway', [note()], [note(), { unique_id: 'outcome' }]), save('cp_worker', [note({ note_text: 'Interview notes' })], [note()]), save('psea_fp', [], [note({ note_text: 'Interview notes' })])];
    expect(lastNoteChange(history, 'n-1', note())).toEqual({ is: 'author', user: 'cp_worker' });
  });

  it('finds the note whose id Primero holds with spaces around it, as the note detector and the sender read it', () => {
    const history = [save('cp_worker', [], [note({ unique_id: ' n-1\n' })])];
    expect(lastNoteChange(history, 'n-1', note({ unique_id: ' n-1\n' }))).toEqual({ is: 'author', user: 'cp_worker' });
  });

  it('is ambiguous when that save left other words than the record holds, and not found when no save touched it', () => {
    expect(lastNoteChange([save('psea_fp', [], [note({ note_text: 'older words' })])], 'n-1', note())).toEqual({ is: 'ambiguous' });
    expect(lastNoteChange([save('psea_fp', [], [note()], [{ status: { from: 'open', to: 'closed' } }])].slice(0, 0), 'n-1', note())).toEqual({ is: 'not_found' });
    expect(lastNoteChange([{ user_name: 'x', record_changes: [{ status: { from: 'a', to: 'b' } }] }, 'junk', null], 'n-1', note())).toEqual({ is: 'not_found' });
  });
});
