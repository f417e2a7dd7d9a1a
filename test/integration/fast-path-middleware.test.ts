import { startGateway, uniquePrefix, type Gateway } from '../support/gateway';

/** The parts of an express 5 (router 2) layer this test reads. */
interface Layer {
  name: string;
  route?: { path: string; _handlesMethod(method: string): boolean };
  handle: { stack?: Layer[] };
  match(path: string): false | { path: string };
}

/** Every handler in `stack` that would run for `POST <path>`, by name, nested routers included. */
function handlersFor(stack: Layer[], path: string): string[] {
  return stack.flatMap((layer) => {
    const matched = layer.match(path);
    if (!matched) return [];
    if (layer.route) return layer.route._handlesMethod('post') ? [`route ${layer.route.path}`] : [];
    if (layer.handle.stack) return handlersFor(layer.handle.stack, path.slice(matched.path.length) || '/');
    return [layer.name];
  });
}

const routePaths = (layer: Layer): string[] => (layer.route ? [layer.route.path] : (layer.handle.stack ?? []).flatMap(routePaths));

/**
 * POST /webhooks/rapidpro/<intent> is answered ahead of express (src/http/fast-routes.ts), so nothing mounted
 * ahead of the channel routes in src/app.ts runs for it. Each handler that would run for it under express is
 * listed here with the fast route's stand-in for it; one that appears unlisted is skipped by the fast path.
 */
describe('the middleware the RapidPro fast path skips', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ prefix: uniquePrefix('fast-mw'), workers: false });
  });
  afterAll(async () => {
    await gw.close();
  });

  const STOOD_IN_FOR: Record<string, string> = {
    observeWebhooks: 'fast-route.ts calls watch(path, res, marks), the same webhook metrics',
  };

  it('is only middleware the fast route does itself', () => {
    const stack = (gw.app as unknown as { router: { stack: Layer[] } }).router.stack;
    const channels = stack.findIndex((layer) => routePaths(layer).some((p) => p.startsWith('/webhooks/rapidpro/')));
    expect(channels).toBeGreaterThan(0);
    for (const path of ['/webhooks/rapidpro/referral', '/webhooks/rapidpro/feedback']) {
      const handlers = handlersFor(stack.slice(0, channels), path);
      const unlisted = handlers.filter((name) => !(name in STOOD_IN_FOR));
      if (unlisted.length > 0) {
        throw new Error(
          `${unlisted.join(', ')} now runs ahead of the channel routes for POST ${path} (src/app.ts), but that request is answered ` +
            'ahead of express by src/http/fast-routes.ts and never reaches it. Do the same in src/channels/rapidpro/fast-route.ts, ' +
            'then list it in STOOD_IN_FOR here.',
        );
      }
      // The walk itself still finds what it must (else the check above could never fail).
      expect(handlers).toEqual(Object.keys(STOOD_IN_FOR));
    }
  });
});
