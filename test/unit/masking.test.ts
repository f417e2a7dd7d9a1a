import { maskPersonal, PERSONAL_FIELDS } from '../../src/admin/masking';
import { JOBS } from '../../src/queues/jobs';

describe('the masked fields', () => {
  it('are the same set as before they were derived from the job catalogue and the channel list', () => {
    // By hand from the old code: PERSONAL_MESSAGE_FIELDS (urn, contactUuid, text, attachments, results), every
    // channel's personalFields (the same, plus WhatsApp's waId and wamid), and the extras 'urns' and 'sealed'; since
    // then 'safe', a record look's safe-to-contact answers from a Primero webhook body.
    const before = ['urn', 'contactUuid', 'text', 'attachments', 'results', 'waId', 'wamid', 'urns', 'sealed', 'safe'];
    expect([...PERSONAL_FIELDS].sort()).toEqual([...before].sort());
  });

  it('include every field any queue seals', () => {
    for (const entry of Object.values(JOBS)) for (const field of entry.sealed) expect(PERSONAL_FIELDS.has(field)).toBe(true);
  });

  it('describe personal fields and show routing ones', () => {
    expect(maskPersonal({ waId: '447700900123', reference: 'ABCD2345' })).toEqual({ waId: '[masked: 12 characters]', reference: 'ABCD2345' });
    expect(maskPersonal({ recordId: 'r-1', safe: { safe_to_contact: false } })).toEqual({ recordId: 'r-1', safe: '[masked: 1 fields]' });
  });
});
