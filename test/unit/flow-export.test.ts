import { readFileSync } from 'node:fs';
import path from 'node:path';
import { resultKeysRead } from '../../src/domain/case-mapping';
import { loadMappings } from '../../src/mappings';

type Exit = { uuid: string; destination_uuid?: string | null };
type Node = {
  uuid: string;
  actions?: Array<{ type: string; [k: string]: unknown }>;
  router?: { result_name?: string; operand?: string; categories: Array<{ uuid: string; name: string; exit_uuid: string }>; cases: Array<{ category_uuid: string; arguments: string[] }>; default_category_uuid: string };
  exits: Exit[];
};

const flowsDir = path.join(__dirname, '..', '..', 'flows');

/** goflow snakifies result names: "Favorite Color" → favorite_color. */
const snakify = (name: string) => name.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');

describe.each(['referral', 'feedback'] as const)('flows/%s.flow.json', (intent) => {
  const exported = JSON.parse(readFileSync(path.join(flowsDir, `${intent}.flow.json`), 'utf8'));
  const flow = exported.flows[0];
  const nodes: Node[] = flow.nodes;

  it('is an export RapidPro imports: version 13, spec 14.4.1', () => {
    expect(exported.version).toBe('13');
    expect(flow.spec_version).toBe('14.4.1');
    expect(flow.type).toBe('messaging');
  });

  it('links every exit to a node that exists, and every router category to an exit', () => {
    const ids = new Set(nodes.map((n) => n.uuid));
    for (const n of nodes) {
      for (const e of n.exits) if (e.destination_uuid) expect(ids.has(e.destination_uuid)).toBe(true);
      if (!n.router) continue;
      const exits = new Set(n.exits.map((e) => e.uuid));
      const cats = new Set(n.router.categories.map((c) => c.uuid));
      for (const c of n.router.categories) expect(exits.has(c.exit_uuid)).toBe(true);
      for (const c of n.router.cases) expect(cats.has(c.category_uuid)).toBe(true);
      expect(cats.has(n.router.default_category_uuid)).toBe(true);
      expect(flow._ui.nodes[n.uuid]).toBeDefined();
    }
  });

  it('posts run uuid, its own node and the results to its route with the token header, and routes on the status', () => {
    const hooks = nodes.filter((n) => n.actions?.some((a) => a.type === 'call_webhook'));
    expect(hooks).toHaveLength(1);
    const hook = hooks[0]!;
    const action = hook.actions![0]!;
    expect(action.method).toBe('POST');
    expect(action.url).toBe(`@globals.gateway_url/webhooks/rapidpro/${intent}`);
    expect((action.headers as Record<string, string>).Authorization).toMatch(/^Token @globals\./);
    expect(action.body).toContain('"run", object("uuid", run.uuid)');
    expect(action.body).toContain(`"node", "${hook.uuid}"`);
    expect(action.body).toContain('"results", foreach_value(results, extract_object, "value", "category")');
    expect(hook.router!.operand).toBe('@webhook.status');
    expect(hook.router!.categories.map((c) => c.name)).toEqual(['Success', 'Failure']);
    expect(hook.router!.cases[0]!.arguments).toEqual(['200', '299']);
    const success = hook.exits.find((e) => e.uuid === hook.router!.categories[0]!.exit_uuid)!;
    const reply = nodes.find((n) => n.uuid === success.destination_uuid)!;
    expect(reply.actions![0]!.text).toMatch(/\bwebhook\.json\.reference\b/);
  });

  it('writes every result the mapping reads', () => {
    const written = new Set(nodes.map((n) => n.router?.result_name).filter((r): r is string => !!r).map(snakify));
    const mapping = loadMappings(flowsDir).get(intent)!;
    for (const key of resultKeysRead(mapping)) expect(written).toContain(key);
  });
});

describe('flows/notify.flow.json', () => {
  const exported = JSON.parse(readFileSync(path.join(flowsDir, 'notify.flow.json'), 'utf8'));
  const flow = exported.flows[0];
  const nodes: Node[] = flow.nodes;

  it('is an export RapidPro imports, started by the gateway with params, and says only the reference and status', () => {
    expect(exported.version).toBe('13');
    expect(flow.spec_version).toBe('14.4.1');
    const split = nodes[0]!;
    expect(split.router!.operand).toBe('@trigger.params.status');
    expect(split.router!.categories.map((c) => c.name)).toEqual(['received', 'in_progress', 'closed', 'Other']);
    const texts = nodes.flatMap((n) => n.actions ?? []).map((a) => String(a.text));
    expect(texts).toHaveLength(3);
    for (const text of texts) {
      expect(text).toContain('@trigger.params.reference');
      // No contact fields or results: the message cannot repeat what the person reported.
      expect(text).not.toMatch(/@(contact|results|fields)\b/);
    }
  });
});
