import { z } from 'zod';
import { referenceNamed } from '../../domain/named-reference';
import { communityStatusOf, tellable, type SenderRecord } from '../../domain/sender-records';
import type { CommunityStatus } from '../../domain/notification-plan';
import { validationDetails } from '../../http/json-body';
import { readJsonBody } from '../body';
import { accepted, andThen, rejected, type Parsed } from '../parsed';
import { rapidProWebhookSchema } from './parse';

/**
 * The bodies a status flow sends: RapidPro's default or legacy webhook body (contact, flow, results) as the
 * intake routes read them, plus an optional `reference` (what the person typed after the keyword). `flow` is not
 * needed to answer, so a hand-built body may leave it out.
 */
const statusBodySchema = rapidProWebhookSchema.pick({ contact: true, results: true }).extend({
  flow: rapidProWebhookSchema.shape.flow.nullish(),
  reference: z.string().nullish(),
});

/** Longer than any way of typing a reference: a pasted link or a message names none (and is not read further). */
const REFERENCE_MAX = 64;

/**
 * Who asks, by RapidPro contact UUID only (every record created through RapidPro is indexed by it), and which of
 * their references, if any. Never by the body's URN: any holder of the shared token could then walk phone numbers,
 * and a contact's random UUID is not guessable as a number is.
 */
export interface StatusQuery {
  contactUuid: string;
  askedFor: string | null;
}

/** What the flow branches on; the reference is the only record detail it carries. */
export interface StatusAnswer {
  reference: string | null;
  status: CommunityStatus | 'none';
}

export function parseRapidProStatusRequest(body: unknown): Parsed<StatusQuery> {
  return andThen(readJsonBody(body), (json) => {
    const parsed = statusBodySchema.safeParse(json);
    if (!parsed.success) return rejected(422, 'invalid_body', 'The body is not a RapidPro webhook body with a contact this route understands.', validationDetails(parsed.error));
    const { contact, results, reference } = parsed.data;
    // Text that names no reference asks, as a bare STATUS does, for the most recent record: a 422 here would send
    // the flow to "cannot check right now", and the person could never get an answer.
    const asked = reference ?? results.reference?.value ?? null;
    const askedFor = asked !== null && asked.length <= REFERENCE_MAX ? referenceNamed(asked) : null;
    // Lowercase, as intake indexes the contact's records (parse.ts rapidProToMessage).
    return accepted({ contactUuid: contact.uuid.toLowerCase(), askedFor });
  });
}

/**
 * The most recent of the sender's own records that may be told (see `tellable`), or the one they named, if it is
 * theirs and may be. Sensitive and not-safe records are never told, and a reference that is not theirs answers as no record does, so the route cannot be
 * used to learn whether someone else's reference exists.
 */
export function statusAnswer(records: SenderRecord[], askedFor: string | null, gatewayUser: string): StatusAnswer {
  const record = records.find((r) => tellable(r) && (askedFor === null || r.reference === askedFor));
  return record ? { reference: record.reference, status: communityStatusOf(record, gatewayUser) } : { reference: null, status: 'none' };
}
