import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { resultKeysRead } from '../../src/domain/case-mapping';
import { loadMappings } from '../../src/mappings';

/*
 * Reads every shipped flow export the way RapidPro's importer and goflow do, so a flow that would be refused
 * or misroute on import fails here first. Rules and their sources (checked at nyaruka/rapidpro v26.3.54,
 * nyaruka/goflow v0.293.0):
 * - export version "3".."13", flow types from `Flow.GOFLOW_TYPES`, expiry choices `Flow.EXPIRES_CHOICES`
 *   (rapidpro: temba/orgs/models.py, temba/flows/models.py);
 * - spec versions goflow reads: >= 11.0.0 < 14.5.0 (goflow: flows/definition/flow.go); RapidPro migrates older
 *   specs forward, so we declare the lowest one the flows need: 14.1.0, where webhook routers split on
 *   `@webhook.status` with the result on the router (goflow: flows/definition/migrations/14.x.go, Migrate14_1_0);
 * - unique action/exit UUIDs, exits to known nodes, categories to known exits (goflow: flows/definition/node.go,
 *   flows/routers/base.go);
 * - actions and waits allowed per flow type: background flows take no waits and no interactive actions
 *   (goflow: flows/actions/base.go, flows/routers/base.go).
 */

type Category = { uuid: string; name: string; exit_uuid: string };
type Case = { uuid: string; type: string; category_uuid: string; arguments: string[] };
type Router = {
  type: string;
  operand?: string;
  result_name?: string;
  wait?: { type: string; timeout?: { category_uuid: string } };
  categories: Category[];
  cases?: Case[];
  default_category_uuid?: string;
};
type Action = { uuid: string; type: string; [k: string]: unknown };
type Node = { uuid: string; actions?: Action[]; router?: Router; exits: Array<{ uuid: string; destination_uuid?: string | null }> };
type Flow = {
  uuid: string;
  name: string;
  spec_version: string;
  type: string;
  language: string;
  expire_after_minutes: number;
  localization: Record<string, Record<string, Record<string, string[]>>>;
  nodes: Node[];
  _ui: { nodes: Record<string, unknown> };
};
type Export = { version: string; flows: Flow[]; triggers: Array<{ flow: { uuid: string }; keywords?: string[] }> };

const flowsDir = path.join(__dirname, '..', '..', 'flows');
const exportFiles = readdirSync(flowsDir).filter((f) => f.endsWith('.flow.json')).sort();
const read = (file: string): Export => JSON.parse(readFileSync(path.join(flowsDir, file), 'utf8'));
const flowOf = (file: string): Flow => read(file).flows[0]!;

const GOFLOW_TYPES = ['messaging', 'messaging_background', 'messaging_offline', 'voice'];
const MESSAGE_EXPIRES = [5, 10, 15, 30, 60, 180, 360, 720, 1080, 1440, 2880, 4320, 10080, 20160];
const INTERACTIVE_ONLY = new Set(['add_input_labels']);
const ONLINE_ONLY = new Set(['call_llm', 'call_resthook', 'call_webhook', 'open_ticket', 'request_optin', 'send_broadcast', 'send_email', 'set_contact_channel', 'start_session', 'transfer_airtime']);
const VOICE_ONLY = new Set(['play_audio', 'say_msg']);

const semver = (v: string) => v.split('.').map(Number) as [number, number, number];
const below = (a: string, b: string) => {
  const [x, y] = [semver(a), semver(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
  return false;
};

/** goflow snakifies result names: "Favorite Color" → favorite_color. */
const snakify = (name: string) => name.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');

/** Problems RapidPro's importer or goflow would have with one export; empty when it imports and routes. */
function exportProblems(exported: Export): string[] {
  const problems: string[] = [];
  const version = Number(exported.version);
  if (!(Number.isInteger(version) && version >= 3 && version <= 13)) problems.push(`export version ${exported.version} is not one RapidPro imports`);
  const flowUuids = new Set(exported.flows.map((f) => f.uuid));
  for (const t of exported.triggers ?? []) if (!flowUuids.has(t.flow.uuid)) problems.push(`trigger points at unknown flow ${t.flow.uuid}`);
  for (const t of exported.triggers ?? []) for (const k of t.keywords ?? []) if (!/^[\p{L}\p{N}_]{1,16}$/u.test(k)) problems.push(`trigger keyword ${k} is not one word of ≤ 16 letters`);

  for (const flow of exported.flows) {
    const where = (s: string) => `${flow.name}: ${s}`;
    if (!/^\d+\.\d+\.\d+$/.test(flow.spec_version) || below(flow.spec_version, '11.0.0') || !below(flow.spec_version, '14.5.0')) {
      problems.push(where(`spec ${flow.spec_version} is not one goflow reads`));
    }
    if (!GOFLOW_TYPES.includes(flow.type)) problems.push(where(`flow type ${flow.type} is unknown`));
    if (flow.type === 'messaging' && !MESSAGE_EXPIRES.includes(flow.expire_after_minutes)) problems.push(where(`expiry ${flow.expire_after_minutes} is not a choice`));

    const nodes = new Map(flow.nodes.map((n) => [n.uuid, n]));
    const seen = new Set<string>();
    const unique = (id: string, what: string) => {
      if (seen.has(id)) problems.push(where(`${what} UUID ${id} is not unique`));
      seen.add(id);
    };
    const localizable = new Set<string>();
    for (const n of flow.nodes) {
      unique(n.uuid, 'node');
      if (!flow._ui?.nodes?.[n.uuid]) problems.push(where(`node ${n.uuid} has no editor position`));
      for (const a of n.actions ?? []) {
        unique(a.uuid, 'action');
        localizable.add(a.uuid);
        if (flow.type === 'messaging_background' && INTERACTIVE_ONLY.has(a.type)) problems.push(where(`action ${a.type} is not allowed in a background flow`));
        if (flow.type === 'messaging_offline' && ONLINE_ONLY.has(a.type)) problems.push(where(`action ${a.type} is not allowed offline`));
        if (flow.type !== 'voice' && VOICE_ONLY.has(a.type)) problems.push(where(`action ${a.type} is voice only`));
      }
      const exits = new Set(n.exits.map((e) => e.uuid));
      for (const e of n.exits) {
        unique(e.uuid, 'exit');
        if (e.destination_uuid && !nodes.has(e.destination_uuid)) problems.push(where(`exit ${e.uuid} leads to unknown node ${e.destination_uuid}`));
      }
      const r = n.router;
      if (!r) {
        if (n.exits.length !== 1) problems.push(where(`action node ${n.uuid} must have exactly one exit`));
      } else {
        if (r.wait && flow.type === 'messaging_background') problems.push(where(`node ${n.uuid} waits, and a background flow cannot`));
        const cats = new Map(r.categories.map((c) => [c.uuid, c]));
        const names = r.categories.map((c) => c.name.trim().toLowerCase());
        for (const dup of names.filter((x, i) => names.indexOf(x) !== i)) problems.push(where(`router ${n.uuid} has two categories named ${dup}`));
        for (const c of r.categories) {
          localizable.add(c.uuid);
          if (!exits.has(c.exit_uuid)) problems.push(where(`category ${c.name} points at unknown exit`));
        }
        const reached = new Set<string>();
        for (const c of r.cases ?? []) {
          localizable.add(c.uuid);
          if (!cats.has(c.category_uuid)) problems.push(where(`case ${c.uuid} points at unknown category`));
          reached.add(c.category_uuid);
        }
        if (r.default_category_uuid) {
          if (!cats.has(r.default_category_uuid)) problems.push(where(`router ${n.uuid} default category is unknown`));
          reached.add(r.default_category_uuid);
        }
        if (r.wait?.timeout) reached.add(r.wait.timeout.category_uuid);
        if (r.type === 'random') r.categories.forEach((c) => reached.add(c.uuid));
        for (const c of r.categories) if (!reached.has(c.uuid)) problems.push(where(`category ${c.name} of ${n.uuid} can never be reached`));
        for (const e of n.exits) if (!r.categories.some((c) => c.exit_uuid === e.uuid)) problems.push(where(`exit ${e.uuid} has no category`));
      }

      const hooks = (n.actions ?? []).filter((a) => a.type === 'call_webhook' || a.type === 'call_resthook');
      if (hooks.length) {
        const cases = r?.cases ?? [];
        const byName = new Map((r?.categories ?? []).map((c) => [c.name, c.uuid]));
        const ok =
          n.actions!.length === 1 &&
          !!r &&
          (r.operand === '@webhook.status' || r.operand === '@(default(webhook.status, 0))') &&
          r.categories.map((c) => c.name).join() === 'Success,Failure' &&
          cases.length === 1 &&
          cases[0]!.type === 'has_number_between' &&
          cases[0]!.arguments.join() === '200,299' &&
          cases[0]!.category_uuid === byName.get('Success') &&
          r.default_category_uuid === byName.get('Failure');
        if (!ok) problems.push(where(`webhook node ${n.uuid} is not followed by a Success (200-299) / Failure split on @webhook.status`));
      }
    }
    for (const id of Object.keys(flow._ui?.nodes ?? {})) if (!nodes.has(id)) problems.push(where(`editor position for unknown node ${id}`));
    for (const [lang, items] of Object.entries(flow.localization ?? {})) {
      if (!/^[a-z]{3}$/.test(lang)) problems.push(where(`localization language ${lang} is not ISO 639-3`));
      for (const id of Object.keys(items)) if (!localizable.has(id)) problems.push(where(`${lang} translation for unknown item ${id}`));
      // A declared language is the person's whole conversation: goflow falls back to the base text per item,
      // so one untranslated question switches a child mid-flow into a language they may not read.
      for (const need of mustTranslate(flow)) {
        const got = items[need.uuid]?.[need.key];
        if (!got || got.length !== need.count || got.some((t) => t.trim() === '')) problems.push(where(`${lang} has no ${need.key} for ${need.what} ${need.uuid}`));
      }
    }
  }
  return problems;
}

/**
 * What a person reads or answers in words: every send_msg text and quick replies, and the arguments of every
 * case a wait router tests the person's words with (numbers and webhook/result splits are not language).
 */
function mustTranslate(flow: Flow): Array<{ uuid: string; key: string; count: number; what: string }> {
  const out: Array<{ uuid: string; key: string; count: number; what: string }> = [];
  for (const node of flow.nodes) {
    for (const a of node.actions ?? []) {
      if (a.type !== 'send_msg') continue;
      out.push({ uuid: a.uuid, key: 'text', count: 1, what: 'send_msg' });
      const replies = Array.isArray(a.quick_replies) ? a.quick_replies : [];
      if (replies.length) out.push({ uuid: a.uuid, key: 'quick_replies', count: replies.length, what: 'send_msg' });
    }
    if (!node.router?.wait) continue;
    for (const c of node.router.cases ?? []) {
      if (c.arguments.some((arg) => !/^-?\d+(\.\d+)?$/.test(arg.trim()))) out.push({ uuid: c.uuid, key: 'arguments', count: c.arguments.length, what: `case ${c.type}` });
    }
  }
  return out;
}

describe('every shipped flow export imports and routes as RapidPro and goflow read it', () => {
  it('ships the five flows', () => {
    expect(exportFiles).toEqual(['feedback.flow.json', 'notify.flow.json', 'referral.flow.json', 'reply.flow.json', 'status.flow.json']);
  });

  it.each(exportFiles)('%s has no import or routing problem', (file) => {
    expect(exportProblems(read(file))).toEqual([]);
  });

  it.each(exportFiles)('%s declares spec 14.1.0, the lowest its webhook routers need, so older RapidPro servers import it', (file) => {
    expect(flowOf(file).spec_version).toBe('14.1.0');
  });

  it('catches what the checker exists for (a checker that finds nothing proves nothing)', () => {
    const broken = read('feedback.flow.json');
    const flow = broken.flows[0]!;
    flow.spec_version = '14.5.0';
    flow.type = 'messaging_background';
    const hook = flow.nodes.find((n) => n.actions?.some((a) => a.type === 'call_webhook'))!;
    hook.router!.operand = '@webhook.json.status';
    const category = flow.nodes.find((n) => n.router?.result_name === 'Category')!.router!;
    category.categories[1]!.name = 'complaint';
    category.cases = category.cases!.filter((c) => c.category_uuid !== category.categories[2]!.uuid);
    flow.nodes[0]!.exits[0]!.destination_uuid = '00000000-0000-4000-8000-000000000000';
    const problems = exportProblems(broken).join('\n');
    for (const expected of ['spec 14.5.0', 'waits, and a background flow cannot', 'not followed by a Success', 'two categories named complaint', 'can never be reached', 'leads to unknown node']) {
      expect(problems).toContain(expected);
    }
  });

  it('finds a question or an answer word left untranslated in a language the flow declares', () => {
    const broken = read('referral.flow.json');
    const flow = broken.flows[0]!;
    const question = flow.nodes.flatMap((n) => n.actions ?? []).find((a) => a.type === 'send_msg')!;
    const word = flow.nodes.flatMap((n) => (n.router?.wait ? (n.router.cases ?? []) : [])).find((c) => c.type === 'has_any_word')!;
    delete flow.localization.swa![question.uuid];
    flow.localization.ara![word.uuid] = { arguments: [' '] };
    const problems = exportProblems(broken).join('\n');
    expect(problems).toContain(`swa has no text for send_msg ${question.uuid}`);
    expect(problems).toContain(`ara has no arguments for case has_any_word ${word.uuid}`);
  });
});

/*
 * "Ignore keyword triggers" (a waiting referral or feedback run is not cut off by a keyword typed as an answer)
 * cannot be shipped in an export: it is the flow model's `ignore_triggers` column (rapidpro: temba/flows/models.py),
 * set only in the flow's settings form (temba/flows/views.py); `Flow.import_flows` reads uuid, name, type,
 * spec_version and expire_after_minutes and nothing else, and goflow's definition has no such field. mailroom
 * honours it per waiting flow (core/tasks/ctasks/msg_received.go, `flow.IgnoreTriggers()`). Re-importing keeps
 * the setting (the import updates only name and expiry), so operators set it once after the first import.
 */
it('ships no ignore-triggers field RapidPro would silently drop, so the README step is the only place it is set', () => {
  for (const file of exportFiles) expect(JSON.stringify(read(file))).not.toMatch(/ignore_triggers|ignore_keywords/);
});

describe.each(['referral', 'feedback'] as const)('flows/%s.flow.json', (intent) => {
  const flow = flowOf(`${intent}.flow.json`);
  const nodes = flow.nodes;

  it('is a messaging flow (it waits for answers)', () => {
    expect(flow.type).toBe('messaging');
  });

  it('posts run uuid, its own node (as RapidPro numbers it after import) and the results to its route with the token header', () => {
    const hooks = nodes.filter((n) => n.actions?.some((a) => a.type === 'call_webhook'));
    expect(hooks).toHaveLength(1);
    const action = hooks[0]!.actions![0]!;
    expect(action.method).toBe('POST');
    expect(action.url).toBe(`@globals.gateway_url/webhooks/rapidpro/${intent}`);
    expect((action.headers as Record<string, string>).Authorization).toMatch(/^Token @globals\./);
    expect(action.body).toContain('"run", object("uuid", run.uuid)');
    // RapidPro gives imported nodes new UUIDs: a hard-coded one would no longer name the node.
    expect(action.body).toContain('"node", node.uuid');
    expect(String(action.body)).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(action.body).toContain('"results", foreach_value(results, extract_object, "value", "category")');
  });

  it('writes every result the mapping reads', () => {
    const written = new Set(nodes.map((n) => n.router?.result_name).filter((r): r is string => !!r).map(snakify));
    const mapping = loadMappings(flowsDir).get(intent)!;
    for (const key of resultKeysRead(mapping)) expect(written).toContain(key);
  });
});

/*
 * A caseworker's message goes to the phone only when the person said it is safe (someone else may read it): both
 * flows ask, every answer reaches the webhook, and a reply with both words is a no, because goflow's switch
 * router takes the first case that matches (goflow: flows/routers/switch.go, matchCase).
 */
describe.each(['referral', 'feedback'] as const)('flows/%s.flow.json asks whether messages to this phone are safe', (intent) => {
  const flow = flowOf(`${intent}.flow.json`);
  const byId = new Map(flow.nodes.map((n) => [n.uuid, n]));
  const router = flow.nodes.find((n) => n.router?.result_name && snakify(n.router.result_name) === 'safe_to_contact')!;
  const question = flow.nodes.find((n) => n.exits.some((e) => e.destination_uuid === router?.uuid))?.actions?.[0];
  const hook = flow.nodes.find((n) => n.actions?.some((a) => a.type === 'call_webhook'))!;
  const languages = Object.keys(flow.localization);
  const categoryOf = (c: Case) => router.router!.categories.find((x) => x.uuid === c.category_uuid)!.name;

  it('asks it in words and waits for the answer as result safe_to_contact', () => {
    expect(router.router!.wait?.type).toBe('msg');
    expect(question?.type).toBe('send_msg');
    expect(String(question!.text)).toMatch(/^Is it safe for us to send messages to this phone\?.*Reply YES or NO\.$/);
  });

  it('sorts answers into Yes, No and Other like the consent question, testing no before yes', () => {
    const r = router.router!;
    expect(r.categories.map((c) => c.name)).toEqual(['Yes', 'No', 'Other']);
    expect(categoryOf({ category_uuid: r.default_category_uuid! } as Case)).toBe('Other');
    // A translated flow adds a whole-answer yes for the word people type without its accent ("si", Spanish).
    const whole = languages.length ? [['Yes', 'has_only_phrase']] : [];
    expect(r.cases!.map((c) => [categoryOf(c), c.type])).toEqual([['No', 'has_any_word'], ['Yes', 'has_any_word'], ...whole]);
  });

  it('is the last question: every answer goes on to the webhook, and nothing else does', () => {
    for (const e of router.exits) expect(e.destination_uuid).toBe(hook.uuid);
    const into = flow.nodes.filter((n) => n.exits.some((e) => e.destination_uuid === hook.uuid));
    expect(into.map((n) => n.uuid)).toEqual([router.uuid]);
    // What the person is told afterwards is unchanged: the replies after the webhook never read this answer.
    const after = hook.exits.map((e) => byId.get(e.destination_uuid!)!);
    for (const n of after) expect(JSON.stringify(n)).not.toContain('safe_to_contact');
  });

  it('speaks every language the flow declares, question and answer words', () => {
    expect(languages).toEqual(intent === 'referral' ? ['fra', 'spa', 'por', 'swa', 'ara'] : []);
    for (const l of languages) {
      expect(flow.localization[l]![question!.uuid]!.text![0]).toMatch(/[?؟]/);
      for (const c of router.router!.cases!.filter((x) => x.type === 'has_any_word')) {
        expect(flow.localization[l]![c.uuid]!.arguments![0]!.split(' ')).toEqual(expect.arrayContaining(c.arguments[0]!.split(' ')));
      }
    }
  });
});

/*
 * goflow's has_any_word is true when any one word of the answer is on the list (flows/routers/cases/tests.go
 * HasAnyWord), comparing lower case only (envs/collate.go): a word that is not a yes on its own ("y" and, "si"
 * if, "o" or, a single letter) turns "Si él lee mis mensajes me pega" into Yes. Every yes/no question, in every
 * language, tests no first (flows/routers/switch.go takes the first matching case) and lists only real yes words.
 */
const NOT_YES_ALONE = new Set(['y', 's', 'o', 'e', 'n', 'si', 'se', 'et', 'and', 'if', 'or', 'na', 'au', 'kama', 'ikiwa', 'kwa', 'و', 'أو', 'لو', 'إذا', 'ان', 'إن']);
describe.each(['referral', 'feedback'] as const)('flows/%s.flow.json yes/no questions', (intent) => {
  const flow = flowOf(`${intent}.flow.json`);
  const routers = flow.nodes.map((n) => n.router!).filter((r) => r?.wait && r.categories.some((c) => c.name === 'Yes') && r.categories.some((c) => c.name === 'No'));
  const name = (r: Router, c: Case) => r.categories.find((x) => x.uuid === c.category_uuid)!.name;
  const argsIn = (c: Case, l: string | null) => (l ? flow.localization[l]?.[c.uuid]?.arguments ?? c.arguments : c.arguments);

  it('are all found (consent, safe to contact, callback)', () => {
    expect(routers.map((r) => r.result_name).sort()).toEqual(intent === 'referral' ? ['Consent', 'Safe To Contact'] : ['Callback', 'Safe To Contact']);
  });

  it.each([null, ...Object.keys(flow.localization)])('test no before yes, and any-word yes lists hold only yes words (language %s)', (l) => {
    for (const r of routers) {
      const cases = r.cases!;
      expect(name(r, cases[0]!)).toBe('No');
      for (const c of cases.filter((x) => name(r, x) === 'Yes')) {
        const words = argsIn(c, l).join(' ').toLowerCase().split(/\s+/);
        if (c.type === 'has_any_word') expect(words.filter((w) => NOT_YES_ALONE.has(w))).toEqual([]);
        else expect(c.type).toBe('has_only_phrase');
      }
    }
  });

  it('would route answers as goflow does: a no anywhere is No, a sentence holding "si" or "y" is not Yes', () => {
    // goflow's first matching case wins; has_any_word on lower-cased tokens, has_only_phrase on the whole answer.
    const route = (r: Router, text: string, l: string | null) => {
      const tokens = text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
      for (const c of r.cases!) {
        const pins = argsIn(c, l).join(' ').toLowerCase().split(/\s+/);
        const hit = c.type === 'has_any_word' ? tokens.some((t) => pins.includes(t)) : tokens.join(' ') === pins.join(' ');
        if (hit) return name(r, c);
      }
      return 'Other';
    };
    const examples: Array<[string | null, string, string]> =
      intent === 'referral'
        ? [['spa', 'No, y no quiero', 'No'], ['spa', 'Si él lee mis mensajes me pega', 'Other'], ['spa', 'Nunca, y él revisa mi teléfono', 'Other'], ['spa', 'SI', 'Yes'], ['spa', 'Sí, quiero', 'Yes'], ['fra', 'O', 'Other'], ['por', 's', 'Other'], ['swa', 'hapana ndiyo', 'No']]
        : [[null, 'yes no', 'No'], [null, 'y', 'Other'], [null, 'Yes please', 'Yes']];
    for (const r of routers) for (const [l, text, category] of examples) expect([text, route(r, text, l)]).toEqual([text, category]);
  });
});

/** "It will not be / has not been shared", as the six languages said it before. */
const NOT_SHARED = /not (be|been) shared|ne sera pas partagé|n'a pas été partagé|no se compartirá|no se ha compartido|não será partilhada|não foi partilhada|hautashirikiwa|haujashirikiwa|لن تتم مشاركتها|لم تتم مشاركتها/;

describe('flows/referral.flow.json consent', () => {
  const flow = flowOf('referral.flow.json');
  const byId = new Map(flow.nodes.map((n) => [n.uuid, n]));
  const languages = ['fra', 'spa', 'por', 'swa', 'ara'];
  const hook = flow.nodes.find((n) => n.actions?.some((a) => a.type === 'call_webhook'))!;
  const successExit = hook.router!.categories.find((c) => c.name === 'Success')!.exit_uuid;
  const split = byId.get(hook.exits.find((e) => e.uuid === successExit)!.destination_uuid!)!;
  const replyFor = (answer: 'Yes' | 'No' | 'Other') => {
    const exit = split.router!.categories.find((c) => c.name === answer)!.exit_uuid;
    return byId.get(split.exits.find((e) => e.uuid === exit)!.destination_uuid!)!.actions![0]!;
  };
  const texts = (action: Action) => [String(action.text), ...languages.map((l) => flow.localization[l]?.[action.uuid]?.text?.[0] ?? '')];

  it('after the case is stored, answers by what the person said about consent', () => {
    expect(split.router!.operand).toBe('@results.consent.category');
    expect(split.router!.categories.map((c) => c.name)).toEqual(['Yes', 'No', 'Other']);
    expect(new Set([replyFor('Yes').uuid, replyFor('No').uuid, replyFor('Other').uuid]).size).toBe(3);
  });

  it('promises a caseworker only to a yes; no and unclear are told nobody is referred, and how to ask for help, in six languages', () => {
    for (const text of texts(replyFor('Yes'))) expect(text).toContain('@webhook.json.reference');
    expect(replyFor('Yes').text).toMatch(/caseworker will follow up/);
    const helpWords = ['HELP', 'AIDE', 'AYUDA', 'AJUDA', 'MSAADA', 'مساعدة'];
    for (const answer of ['No', 'Other'] as const) {
      const all = texts(replyFor(answer));
      all.forEach((text, i) => {
        expect(text).toContain('@webhook.json.reference');
        expect(text).toContain(helpWords[i]);
      });
      expect(all[0]).toMatch(/kept in our case system/);
      expect(all[0]).toMatch(/not (be|been) referred to any service/);
      expect(all[0]).not.toMatch(/caseworker will follow up/i);
      // The report is in Primero, where caseworkers read it: no language may promise it is not shared.
      all.forEach((text) => expect(text).not.toMatch(NOT_SHARED));
    }
    expect(replyFor('No').text).not.toBe(replyFor('Other').text);
  });

  it('asks the consent question and reads YES/NO in the same six languages', () => {
    const consent = flow.nodes.find((n) => n.router?.result_name === 'Consent')!;
    const question = flow.nodes.find((n) => n.exits.some((e) => e.destination_uuid === consent.uuid))!.actions![0]!;
    for (const l of languages) {
      expect(flow.localization[l]?.[question.uuid]?.text?.[0]).toBeTruthy();
      for (const c of consent.router!.cases!) expect(flow.localization[l]?.[c.uuid]?.arguments?.[0]).toBeTruthy();
    }
  });
});

describe('flows/feedback.flow.json categories', () => {
  it('names the fallback category Other, so results.category tells a chosen complaint from an unrecognised answer', () => {
    const router = flowOf('feedback.flow.json').nodes.find((n) => n.router?.result_name === 'Category')!.router!;
    const fallback = router.categories.find((c) => c.uuid === router.default_category_uuid)!;
    expect(fallback.name).toBe('Other');
  });
});

describe('flows/reply.flow.json', () => {
  const flow = flowOf('reply.flow.json');
  const actions = flow.nodes.flatMap((n) => n.actions ?? []);

  it('is a background flow with no wait and no webhook, so a caseworker\'s message never interrupts a run the person is in', () => {
    // goflow allows send_msg in background flows (flows/actions/send_msg.go: universalAction); mailroom interrupts for any other type.
    expect(flow.type).toBe('messaging_background');
    expect(flow.nodes.some((n) => n.router)).toBe(false);
    expect(actions.map((a) => a.type)).toEqual(['send_msg']);
  });

  it('sends the caseworker\'s words as the gateway passes them (params.text), in every language alike', () => {
    expect(actions[0]!.text).toBe('@trigger.params.text');
    // The words are the caseworker's, in whatever language they wrote: no translation may replace them.
    expect(flow.localization).toEqual({});
  });
});

describe('flows/notify.flow.json', () => {
  const flow = flowOf('notify.flow.json');

  it('is a background flow, so starting it never interrupts the referral or feedback run a child is answering', () => {
    // mailroom starts non-background flows in interrupt mode (mailroom: core/tasks/start_flow_batch.go).
    expect(flow.type).toBe('messaging_background');
    expect(flow.nodes.some((n) => n.router?.wait)).toBe(false);
  });

  it('is started with params and says only the reference and status', () => {
    const split = flow.nodes[0]!;
    expect(split.router!.operand).toBe('@trigger.params.status');
    expect(split.router!.categories.map((c) => c.name)).toEqual(['received', 'in_progress', 'closed', 'Other']);
    const texts = flow.nodes.flatMap((n) => n.actions ?? []).map((a) => String(a.text));
    expect(texts).toHaveLength(3);
    for (const text of texts) {
      expect(text).toContain('@trigger.params.reference');
      // No contact fields or results: the message cannot repeat what the person reported.
      expect(text).not.toMatch(/@(contact|results|fields)\b/);
    }
  });

  // RapidPro picks a translation by the contact's language: a child who answered the referral flow in Kiswahili
  // must not be told about their case in English.
  const sends = flow.nodes.flatMap((n) => n.actions ?? []).filter((a) => a.type === 'send_msg');
  const languages = Object.keys(flow.localization).sort();

  it('speaks every language the referral flow speaks, each message with its reference and nothing else', () => {
    expect(languages).toEqual(Object.keys(flowOf('referral.flow.json').localization).sort());
    expect(languages).toEqual(['ara', 'fra', 'por', 'spa', 'swa']);
    for (const l of languages) {
      for (const a of sends) {
        const text = flow.localization[l]![a.uuid]?.text?.[0] ?? '';
        expect(text).toContain('@trigger.params.reference');
        expect(text).not.toMatch(/@(contact|results|fields)\b/);
        expect(text).not.toBe(a.text);
      }
    }
  });

  it('routes on the status word the gateway sends in every language: goflow reads case arguments in the contact\'s language', () => {
    // flows/routers/switch.go (nyaruka/goflow) tests run.GetTextArray(case, "arguments"): a translated status
    // word would send a French-speaking child's update to Other, and nothing would be said.
    const cases = flow.nodes[0]!.router!.cases!;
    for (const l of languages) for (const c of cases) expect(flow.localization[l]![c.uuid]?.arguments ?? c.arguments).toEqual(c.arguments);
  });

  it('tells a closed case how to ask for help again with the keyword the gateway reads in that language', () => {
    const keywords = JSON.parse(readFileSync(path.join(flowsDir, 'keywords.json'), 'utf8')) as { languages: Record<string, { referral: string[] }> };
    const closed = flow.nodes.find((n) => n.uuid === flow.nodes[0]!.exits[2]!.destination_uuid)!.actions![0]!;
    expect(String(closed.text)).toContain(keywords.languages.eng!.referral[0]!.toUpperCase());
    for (const l of languages) expect(flow.localization[l]![closed.uuid]!.text![0]).toContain(keywords.languages[l]!.referral[0]!.toUpperCase());
  });
});

describe('flows/status.flow.json', () => {
  const exported = read('status.flow.json');
  const flow = exported.flows[0]!;
  const byId = new Map(flow.nodes.map((n) => [n.uuid, n]));
  const keywords = JSON.parse(readFileSync(path.join(flowsDir, 'keywords.json'), 'utf8')) as { languages: Record<string, { referral: string[]; status?: string[] }> };
  const hook = flow.nodes.find((n) => n.actions?.some((a) => a.type === 'call_webhook'))!;
  const action = hook.actions![0]!;
  const next = (node: Node, category: string) => {
    const exit = node.router!.categories.find((c) => c.name === category)!.exit_uuid;
    return byId.get(node.exits.find((e) => e.uuid === exit)!.destination_uuid!)!;
  };
  const split = next(hook, 'Success');
  const sendOf = (category: string) => next(split, category).actions![0]!;
  const languages = ['fra', 'spa', 'por', 'swa', 'ara'];
  const texts = (a: Action) => [String(a.text), ...languages.map((l) => flow.localization[l]?.[a.uuid]?.text?.[0] ?? '')];

  it('starts on every STATUS word the SMS keyword table knows, and only when that word is the whole message', () => {
    // mailroom (core/models/trigger.go FindMatchingMsgTrigger) takes the first token as the keyword; match type
    // "F" (MatchFirst) fires whatever follows it, "O" (MatchOnly) only when it is the only token
    // (rapidpro: temba/triggers/models.py MATCH_ONLY_WORD = "O"). "Hali ni mbaya nyumbani…" or "Estado de
    // emergencia…" must reach the referral flow, not be answered with a status, so only "O" is safe here.
    const trigger = exported.triggers.find((t) => t.flow.uuid === flow.uuid) as unknown as { keywords: string[]; match_type: string; trigger_type: string };
    expect(trigger.trigger_type).toBe('K');
    expect(trigger.match_type).toBe('O');
    const words = Object.values(keywords.languages).flatMap((l) => l.status ?? []);
    expect(words.length).toBeGreaterThanOrEqual(6);
    expect(trigger.keywords).toEqual(expect.arrayContaining(words));
    for (const k of trigger.keywords) expect(k).toBe(k.toLowerCase());
  });

  it('would not start on a cry for help that opens with a status word, in the languages that have one', () => {
    const trigger = exported.triggers.find((t) => t.flow.uuid === flow.uuid) as unknown as { keywords: string[]; match_type: string };
    // mailroom's rule: first token equal (lower-cased, goflow envs/collate.go default collation), and for "O" no other token.
    const starts = (text: string) => {
      const words = text.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
      const first = (words[0] ?? '').toLowerCase();
      return trigger.keywords.includes(first) && (trigger.match_type === 'F' || words.length === 1);
    };
    for (const cry of ['Hali ni mbaya nyumbani, baba ananipiga', 'حالة طوارئ', 'Estado de emergencia, ayuda', 'Situação grave', 'Status need help']) expect(starts(cry)).toBe(false);
    for (const ask of ['STATUS', 'hali', 'Estado', 'حالة']) expect(starts(ask)).toBe(true);
  });

  it('is a messaging flow: a keyword starts it and it answers at once', () => {
    expect(flow.type).toBe('messaging');
    expect(flow.nodes.some((n) => n.router?.wait)).toBe(false);
  });

  it('asks the status route with the token header, for the contact, with at most two words of what they typed', () => {
    expect(action.method).toBe('POST');
    expect(action.url).toBe('@globals.gateway_url/webhooks/rapidpro/status');
    expect((action.headers as Record<string, string>).Authorization).toMatch(/^Token @globals\./);
    expect(action.body).toContain('"contact", object("uuid", contact.uuid, "urn", contact.urn');
    expect(action.body).toContain('"reference", word_slice(default(input.text, ""), 1, 3)');
    // Not the flow's results or the whole message: nothing the person reported reaches this route.
    expect(String(action.body)).not.toMatch(/results|remove_first_word|input\.text\)/);
  });

  it('answers by the status word the route returns, and a failure is never told as "no report"', () => {
    expect(split.router!.operand).toBe('@webhook.json.status');
    expect(split.router!.categories.map((c) => c.name)).toEqual(['received', 'in_progress', 'closed', 'none', 'Other']);
    const failure = next(hook, 'Failure').actions![0]!;
    expect(sendOf('Other').uuid).toBe(failure.uuid);
    expect(new Set(['received', 'in_progress', 'closed', 'none', 'Other'].map((c) => sendOf(c).uuid)).size).toBe(5);
    for (const text of texts(failure)) expect(text).not.toBe(texts(sendOf('none'))[0]);
  });

  it('says the reference and status word in six languages, and nothing about the person', () => {
    expect(Object.keys(flow.localization).sort()).toEqual(Object.keys(flowOf('referral.flow.json').localization).sort());
    for (const status of ['received', 'in_progress', 'closed']) for (const text of texts(sendOf(status))) expect(text).toContain('@webhook.json.reference');
    for (const text of texts(sendOf('none'))) expect(text).not.toContain('@webhook.json.reference');
    for (const a of flow.nodes.flatMap((n) => n.actions ?? []).filter((x) => x.type === 'send_msg')) {
      for (const text of texts(a)) expect(text).not.toMatch(/@(contact|results|fields|input)\b/);
      for (const l of languages) expect(flow.localization[l]![a.uuid]!.text![0]).not.toBe(a.text);
    }
  });

  it('tells a closed report and no report how to ask for help with the keyword the gateway reads in that language', () => {
    for (const status of ['closed', 'none']) {
      const all = texts(sendOf(status));
      expect(all[0]).toContain(keywords.languages.eng!.referral[0]!.toUpperCase());
      languages.forEach((l, i) => expect(all[i + 1]).toContain(keywords.languages[l]!.referral[0]!.toUpperCase()));
    }
  });
});
