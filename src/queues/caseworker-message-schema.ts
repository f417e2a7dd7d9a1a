import { z } from 'zod';

/**
 * A caseworker-messages job: one note to the person behind a gateway record. `urn`, `contactUuid` and `text`
 * are sealed (JOBS), the rest is what routes it and what the gates read. No import of the catalogue here: it
 * imports this.
 */
export const caseworkerMessageSchema = z.object({
  reference: z.string(),
  recordType: z.enum(['case', 'incident']),
  recordId: z.string(),
  noteId: z.string(),
  /** The note's author (note_created_by): the sensitive-record gate reads it. */
  author: z.string().nullable(),
  channel: z.string(),
  intent: z.string(),
  sensitive: z.boolean(),
  urn: z.string().nullable(),
  contactUuid: z.string().nullable(),
  text: z.string(),
});
