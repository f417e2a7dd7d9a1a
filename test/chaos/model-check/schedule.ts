import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { eventually } from '../../support/eventually';
import type { Fault } from './fake-primero';
import type { Delivery, World } from './world';

export type Intent = 'referral' | 'feedback';
export interface NewMessage {
  intent: Intent;
  /** Index into a pool of two senders: reports from one sender and category merge. */
  sender: number;
  /** The editor's default body (no run uuid): its idempotency key is the content hash. */
  runless?: boolean;
  /** Words that are a prefix of an earlier message's words (index modulo the messages so far). */
  prefixOf?: number;
}

/** One step of a schedule. Plain data, so a failing schedule prints as JSON and shrinks. */
export type Command =
  | ({ t: 'send' } & NewMessage)
  | { t: 'together'; sends: NewMessage[] }
  | { t: 'redeliver'; of: number; concurrent?: boolean }
  | { t: 'newRun'; of: number }
  | { t: 'simulate'; intent: Intent; sender: number }
  | { t: 'fault'; route: 'create' | 'read' | 'update' | 'refer'; fault: Fault; n: number }
  | { t: 'killWorker'; whenPrimeroSees?: 'create' | 'refer' | 'update' }
  | { t: 'killApi' }
  | ({ t: 'stallRedis' } & NewMessage)
  | ({ t: 'refuseScripts' } & NewMessage)
  | { t: 'restartRedis' }
  | { t: 'purge' }
  | { t: 'settle' }
  | { t: 'windowPasses' }
  | { t: 'replay' };

/** What the gateway was asked, and what it answered: the model the invariants are checked against. */
export interface Message {
  intent: Intent;
  body: string;
  text: string;
  /** Idempotency windows passed before this acceptance (a resend in a later window is a new message). */
  epoch: number;
  simulated: boolean;
  deliveries: Array<Delivery & { sentAt: number }>;
}

export interface Run {
  salt: string;
  messages: Message[];
  epoch: number;
  /** Dead letters seen (id → reference) and not replayed since. */
  deadLetters: Map<string, string | null>;
  /** A permanent refusal was injected: a dead letter is then a legitimate outcome. */
  refusals: boolean;
  /**
   * A 403 was injected on an update: the record left the API user's scope, so a report merged into it is
   * filed as a record of its own, under the report's own reference (workers/intake.ts mergeIntoEarlier).
   */
  outOfScope: boolean;
}

const sender = fc.integer({ min: 0, max: 1 });
const intent = fc.constantFrom<Intent>('referral', 'feedback', 'feedback');
const newMessage: fc.Arbitrary<NewMessage> = fc.record({ intent, sender, runless: fc.boolean(), prefixOf: fc.option(fc.nat(7), { nil: undefined }) }, { requiredKeys: ['intent', 'sender'] });

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: newMessage.map((m) => ({ t: 'send' as const, ...m })) },
  { weight: 2, arbitrary: fc.array(newMessage, { minLength: 2, maxLength: 3 }).map((sends) => ({ t: 'together' as const, sends })) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('redeliver' as const), of: fc.nat(7), concurrent: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('newRun' as const), of: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('simulate' as const), intent, sender }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('fault' as const),
      route: fc.constantFrom('create' as const, 'read' as const, 'update' as const, 'refer' as const),
      fault: fc.constantFrom<Fault>('commit-then-hang', 'timeout', '500', '403', '409', '422'),
      n: fc.integer({ min: 1, max: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('killWorker' as const), whenPrimeroSees: fc.constantFrom('create' as const, 'refer' as const, 'update' as const) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'killApi' as const }) },
  { weight: 1, arbitrary: newMessage.map((m) => ({ t: 'stallRedis' as const, ...m })) },
  { weight: 1, arbitrary: newMessage.map((m) => ({ t: 'refuseScripts' as const, ...m })) },
  { weight: 1, arbitrary: fc.constant({ t: 'restartRedis' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'purge' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'settle' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'windowPasses' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'replay' as const }) },
);

export const scheduleArb = fc.array(commandArb, { minLength: 1, maxLength: 10 });

const WORDS = ['the guard', 'takes food', 'at the distribution', 'near the water point', 'every evening', 'from the children', 'and shouts'];

function bodyOf(run: Run, m: NewMessage, text: string, runUuid: string | null): string {
  const contact = { uuid: `00000000-0000-4000-8000-${run.salt}${String(m.sender).padStart(6, "0")}`, urn: `tel:+2507880${run.salt.slice(0, 5)}${m.sender}` };
  const results =
    m.intent === 'referral'
      ? { concern: { value: text, category: 'Other' }, consent: { value: 'yes', category: 'Yes' } }
      : { category: { value: 'complaint', category: 'Complaint' }, description: { value: text, category: 'All Responses' } };
  return JSON.stringify({
    contact,
    flow: { uuid: m.intent === 'referral' ? '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' : 'f0c1ab9e-8d35-4a6f-b2f5-6a1e4a1f7c21' },
    ...(runUuid ? { run: { uuid: runUuid } } : {}),
    results,
  });
}

function textFor(run: Run, m: NewMessage): string {
  const earlier = run.messages.filter((x) => x.intent === m.intent && !x.simulated);
  if (m.prefixOf !== undefined && earlier.length) {
    const words = earlier[m.prefixOf % earlier.length]!.text.split(' ');
    if (words.length > 3) return words.slice(0, -2).join(' ');
  }
  const n = run.messages.length;
  return `r${run.salt}m${n} ${WORDS.slice(0, 3 + (n % 4)).join(' ')}`;
}

function newMessageIn(run: Run, m: NewMessage, simulated = false): Message {
  const text = textFor(run, m);
  const body = bodyOf(run, m, text, m.runless ? null : randomUUID());
  // The same words from the same sender in an editor body are the same body: a re-delivery, not a new message.
  const same = run.messages.find((x) => x.body === body && x.epoch === run.epoch && x.simulated === simulated);
  if (same) return same;
  const msg: Message = { intent: m.intent, body, text, epoch: run.epoch, simulated, deliveries: [] };
  run.messages.push(msg);
  return msg;
}

async function deliver(world: World, msg: Message): Promise<void> {
  const sentAt = Date.now();
  const d = await world.post(msg.intent, msg.body, msg.simulated);
  msg.deliveries.push({ ...d, sentAt });
}

/** An earlier message delivered again: within its window the same acceptance, after it a new one. */
function again(run: Run, of: number): Message | null {
  const candidates = run.messages.filter((m) => !m.simulated);
  if (!candidates.length) return null;
  const msg = candidates[of % candidates.length]!;
  if (msg.epoch === run.epoch) return msg;
  const resent = run.messages.find((m) => m.body === msg.body && m.epoch === run.epoch && !m.simulated);
  if (resent) return resent;
  const fresh: Message = { ...msg, epoch: run.epoch, deliveries: [] };
  run.messages.push(fresh);
  return fresh;
}

async function observeDeadLetters(world: World, run: Run): Promise<void> {
  const refs = new Set(run.messages.flatMap((m) => m.deliveries.map((d) => d.reference)).filter(Boolean));
  for (const dl of await world.deadLetters()) if (dl.reference && refs.has(dl.reference)) run.deadLetters.set(dl.id, dl.reference);
}

export async function execute(world: World, run: Run, c: Command): Promise<void> {
  switch (c.t) {
    case 'send':
      return deliver(world, newMessageIn(run, c));
    case 'together': {
      const msgs = c.sends.map((s) => newMessageIn(run, s));
      await Promise.all(msgs.map((m) => deliver(world, m)));
      return;
    }
    case 'redeliver': {
      const msg = again(run, c.of);
      if (msg) await Promise.all((c.concurrent ? [msg, msg] : [msg]).map((m) => deliver(world, m)));
      return;
    }
    case 'newRun': {
      const candidates = run.messages.filter((m) => !m.simulated);
      const old = candidates[c.of % Math.max(1, candidates.length)];
      if (!old) return;
      const body = JSON.parse(old.body) as { run?: { uuid: string } };
      // The editor's default body has no run: the same answers are the same body, a re-delivery.
      if (!body.run) return deliver(world, again(run, c.of)!);
      body.run.uuid = randomUUID();
      const msg: Message = { ...old, body: JSON.stringify(body), epoch: run.epoch, deliveries: [] };
      run.messages.push(msg);
      return deliver(world, msg);
    }
    case 'simulate':
      return deliver(world, newMessageIn(run, c, true));
    case 'fault':
      // A 422, or a 403 on one record's referral, flag or read, is Primero refusing that job: a dead letter is legitimate.
      if (c.fault === '422' || (c.fault === '403' && c.route !== 'update' && c.route !== 'create')) run.refusals = true;
      if (c.fault === '403' && c.route === 'update') run.outOfScope = true;
      world.primero.inject(c.route, ...Array.from({ length: c.n }, () => c.fault));
      return;
    case 'killWorker':
      if (c.whenPrimeroSees) {
        const seen = world.primero.log.filter((l) => l.route === c.whenPrimeroSees).length;
        // Kills at that moment if Primero sees it within 3 s, and otherwise anyway: a timeout is not a failure here.
        await eventually(() => world.primero.log.filter((l) => l.route === c.whenPrimeroSees).length > seen, 3000, undefined, { intervalMs: 10 }).catch(() => undefined);
      }
      return world.killWorker();
    case 'killApi':
      return world.killApi();
    case 'stallRedis': {
      const msg = newMessageIn(run, c);
      return world.stallRedis(() => deliver(world, msg));
    }
    case 'refuseScripts': {
      const msg = newMessageIn(run, c);
      return world.refuseScripts(() => deliver(world, msg));
    }
    case 'restartRedis':
      await world.restartRedis();
      return world.ready();
    case 'purge':
      await observeDeadLetters(world, run);
      return world.purge();
    case 'settle':
      await world.quiesce();
      return observeDeadLetters(world, run);
    case 'windowPasses':
      await world.quiesce();
      await observeDeadLetters(world, run);
      await world.windowPasses();
      run.epoch++;
      return;
    case 'replay':
      await world.quiesce();
      await observeDeadLetters(world, run);
      for (const id of [...run.deadLetters.keys()]) {
        await world.replay(id);
        run.deadLetters.delete(id);
      }
      return;
  }
}
