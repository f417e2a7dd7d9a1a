import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../../domain/idempotency';
import { INTENTS, type FlowResult, type UnreferencedMessage } from '../../domain/inbound-message';
import { addressableUrn } from '../../domain/urn';
import { UUID_PATTERN } from '../../domain/uuid';
import { validationDetails } from '../../http/json-body';
import { readJsonBody } from '../body';
import { accepted, andThen, rejected, type Parsed } from '../parsed';
import type { ChannelRequest } from '../vector';

const uuid = z.string().regex(UUID_PATTERN, 'must be a UUID');
// goflow renders result values as strings; a hand-written body may send numbers or booleans.
const scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const resultSchema = z.object({
  value: scalar.nullish(),
  category: scalar.nullish(),
  node_uuid: z.string().optional(),
});

/**
 * Both bodies RapidPro sends: the editor's default (contact, flow, results) and the legacy/resthook body
 * (adds run, path, input, channel). Our shipped flows add `run` and `node` to the default body.
 */
export const rapidProWebhookSchema = z.object({
  contact: z.object({
    uuid,
    urn: z.string().max(300).nullish(),
    name: z.string().nullish(),
    language: z.string().max(10).nullish(),
  }),
  flow: z.object({ uuid, name: z.string().optional() }),
  results: z.record(z.string().max(128), resultSchema).default({}),
  run: z.object({ uuid }).nullish(),
  node: uuid.nullish(),
  path: z.array(z.object({ node_uuid: uuid })).nullish(),
  input: z
    .object({ uuid: uuid.nullish(), text: z.string().nullish() })
    .nullish(),
});

export type RapidProWebhookBody = z.infer<typeof rapidProWebhookSchema>;

function normaliseResults(body: RapidProWebhookBody): Record<string, FlowResult> {
  // fromEntries defines own properties: a result named "__proto__" stays a result, not the object's prototype.
  return Object.fromEntries(Object.entries(body.results).map(([key, r]) => [key, { value: r.value ?? '', category: r.category ?? '' }]));
}

/**
 * Run uuid plus node when the body has one (a run that passes two webhook nodes sends two messages), else
 * the input message uuid, else a hash of contact, flow and results: the editor's default body has no ids.
 */
export function rapidProIdempotencyKey(intent: string, body: RapidProWebhookBody): string {
  if (body.run?.uuid) {
    const node = body.node ?? body.path?.at(-1)?.node_uuid ?? '';
    return `rapidpro:${intent}:run:${body.run.uuid}:${node}`;
  }
  if (body.input?.uuid) return `rapidpro:${intent}:input:${body.input.uuid}`;
  const content = canonicalJson({ contact: body.contact.uuid, flow: body.flow.uuid, results: normaliseResults(body) });
  return `rapidpro:${intent}:hash:${sha256Hex(content)}`;
}

export function rapidProToMessage(
  intent: UnreferencedMessage['intent'],
  body: RapidProWebhookBody,
  receivedAt: Date,
  simulation: boolean,
): UnreferencedMessage {
  return {
    v: 1,
    intent,
    channel: 'rapidpro',
    idempotencyKey: rapidProIdempotencyKey(intent, body),
    // An anonymous workspace's `tel:********` is every contact's: indexing, merging or following up by it would join
    // strangers. The contact UUID then stands for the person.
    urn: addressableUrn(body.contact.urn),
    // Lowercase, as "forget" normalises it: the feedback-window and contact-refs keys hash this form.
    contactUuid: body.contact.uuid.toLowerCase(),
    language: body.contact.language ?? null,
    // The legacy body's input is only the last answer given (often "yes"); the results carry the content.
    text: null,
    attachments: [],
    results: normaliseResults(body),
    flowUuid: body.flow.uuid,
    receivedAt: receivedAt.toISOString(),
    simulation,
  };
}

const isIntent = (value: string | undefined): value is UnreferencedMessage['intent'] => INTENTS.some((i) => i === value);

/**
 * A RapidPro webhook call, after its token check: the intent its path names, the body, and whether the
 * flow editor's simulator sent it (`X-Mailroom-Mode: simulation`).
 */
export function parseRapidProRequest(req: ChannelRequest): Parsed<{ messages: [UnreferencedMessage] }> {
  const intent = req.pathParams.intent;
  if (!isIntent(intent)) return rejected(404, 'not_found', 'No such route, or the channel is not configured.');
  return andThen(readJsonBody(req.body), (json) => {
    const parsed = rapidProWebhookSchema.safeParse(json);
    if (!parsed.success) return rejected(422, 'invalid_body', 'The body is not a RapidPro webhook body this route understands.', validationDetails(parsed.error));
    const simulation = req.headers['x-mailroom-mode'] === 'simulation';
    return accepted({ messages: [rapidProToMessage(intent, parsed.data, req.now, simulation)] });
  });
}

/**
 * `/webhooks/rapidpro/message`'s body: the same bodies, where the person's words are the result `message` or the
 * `input` the flow author added (`"input", input.text` renders a string, the resthook body an object).
 */
export const rapidProMessageSchema = rapidProWebhookSchema.extend({
  input: z.union([z.string(), z.object({ uuid: uuid.nullish(), text: z.string().nullish() })]).nullish(),
});

/** The words of a /message call, the results without them, and the body in the shape the other routes read. */
function messageParts(body: z.infer<typeof rapidProMessageSchema>): { text: string | null; body: RapidProWebhookBody } {
  const input = typeof body.input === 'string' ? { text: body.input } : (body.input ?? null);
  const { message, ...rest } = body.results;
  const text = message?.value?.trim() || input?.text?.trim() || null;
  return { text, body: { ...body, input, results: rest } };
}

/**
 * A message a flow passes on as the person wrote it (no keyword): the intake decides whether it follows up their
 * open record or opens a referral. Without run or input ids the words are part of the key, so two different
 * messages in one run are never taken for one delivered twice.
 */
export function parseRapidProMessage(req: ChannelRequest): Parsed<{ messages: [UnreferencedMessage] }> {
  return andThen(readJsonBody(req.body), (json) => {
    const parsed = rapidProMessageSchema.safeParse(json);
    if (!parsed.success) return rejected(422, 'invalid_body', 'The body is not a RapidPro webhook body this route understands.', validationDetails(parsed.error));
    const { text, body } = messageParts(parsed.data);
    if (!text) return rejected(422, 'no_message', 'The body carries no message: send it as the result "message" or as "input".');
    const message = rapidProToMessage('referral', body, req.now, req.headers['x-mailroom-mode'] === 'simulation');
    // One message, one key: the input's own uuid when the flow sends it; else the run and node with the words, as a
    // flow looping back to one webhook node passes a new message through the same run and node every time.
    const words = sha256Hex(text);
    const idempotencyKey = body.input?.uuid
      ? `rapidpro:message:input:${body.input.uuid}`
      : body.run?.uuid
        ? `${rapidProIdempotencyKey('message', body)}:${words}`
        : `rapidpro:message:hash:${sha256Hex(canonicalJson({ contact: body.contact.uuid, flow: body.flow.uuid, results: message.results, text }))}`;
    return accepted({ messages: [{ ...message, text, idempotencyKey }] });
  });
}
