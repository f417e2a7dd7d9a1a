import { z } from 'zod';

/**
 * A caseworker-messages job: one note to the person behind a gateway record. `urn` and `contactUuid` are
 * sealed (JOBS), the rest is what routes it and what the gates read. The note's words are not here: the worker
 * reads them from the record just before sending, so a note deleted or corrected meanwhile is never sent stale. No import of the catalogue here: it
 * imports this.
 */
export const caseworkerMessageSchema = z.object({
  reference: z.string(),
  recordType: z.enum(['case', 'incident']),
  recordId: z.string(),
  noteId: z.string(),
  /** Jobs stored by earlier builds carry the note's author and text; the worker reads both from the record now. */
  author: z.string().nullable().optional(),
  channel: z.string(),
  intent: z.string(),
  sensitive: z.boolean(),
  urn: z.string().nullable(),
  contactUuid: z.string().nullable(),
  text: z.string().optional(),
});
