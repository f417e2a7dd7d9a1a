import { thrownAt, thrownClass } from '../../src/process-end';

/** What a crash line may say of what was thrown: its class and where, never a value it holds. */
describe('the crash line', () => {
  const phone = '+250788123987';

  it('names the class of an error, and only a placeholder for a thrown value that is not an object', () => {
    expect(thrownClass(new TypeError(phone))).toBe('TypeError');
    expect(thrownClass({ phone })).toBe('Object');
    expect(thrownClass(Object.create(null))).toBe('unknown');
    expect(thrownClass(phone)).toBe('(a thrown string)');
    expect(thrownClass(null)).toBe('(a thrown null)');
    expect(thrownClass(new Proxy({}, { getPrototypeOf: () => { throw new Error(phone); } }))).toBe('(an object that refused to be read)');
  });

  it('names the class of a rejected upstream body, not the name it carries as a constructor field', () => {
    expect(thrownClass(JSON.parse('{"constructor":{"name":"Amani"}}'))).toBe('Object');
    expect(thrownClass(Object.assign(Object.create({ constructor: { name: 'Amani' } }), {}))).toBe('unknown');
    class Named {
      static get name() {
        return 'Amani';
      }
    }
    expect(thrownClass(new Named())).toBe('unknown');
  });

  it('gives the frames of the stack without its message, even a message that looks like frames', () => {
    const plain = new Error(`failed for ${phone}`);
    expect(thrownAt(plain).length).toBeGreaterThan(0);
    expect(thrownAt(plain).every((frame) => !frame.includes(phone))).toBe(true);
    const sly = new Error(`failed\n    at ${phone} (somewhere.js:1:1)`);
    expect(thrownAt(sly).join('\n')).not.toContain(phone);
    const changed = new Error('first');
    void changed.stack;
    changed.message = phone;
    expect(thrownAt(changed)).toEqual([]);
  });

  it('gives each frame as file:line:col only, never the function name V8 took from a computed key', () => {
    const contact = { name: 'Amani' };
    const handlers = { [contact.name]: (): Error => new Error('failed') };
    const thrown = handlers[contact.name]!();
    expect(thrown.stack).toContain('Amani');
    const at = thrownAt(thrown);
    expect(at[0]).toMatch(/process-end\.test\.ts:\d+:\d+$/);
    expect(at.every((frame) => /^[^\s()]+:\d+:\d+$/.test(frame))).toBe(true);
    expect(at.join('\n')).not.toContain('Amani');
  });
});

describe('the stop', () => {
  const events: string[] = ['SIGTERM', 'SIGINT', 'uncaughtException', 'unhandledRejection'];

  it('exits 1, never 0, when a part fails to stop', async () => {
    const before = new Map(events.map((e) => [e, process.listeners(e as 'SIGTERM')]));
    const exits: Array<number | undefined> = [];
    const exit = jest.spyOn(process, 'exit').mockImplementation(((code?: number) => {
      exits.push(code);
    }) as never);
    const lines: string[] = [];
    const log = { info: () => undefined, error: (_o: unknown, m: string) => lines.push(m), fatal: () => undefined } as unknown as import('../../src/logger').Logger;
    try {
      const { installProcessEnd } = await import('../../src/process-end');
      const stopped: string[] = [];
      // A deadline no test outlives: its timer never fires (it would call the real process.exit).
      const end = installProcessEnd(() => undefined);
      end.running(log, [async () => { throw new Error('redis went away'); }, async () => { stopped.push('workers'); }], 2 ** 31 - 1);
      // The crash handler this installed, called as Node would for a rejection nothing handled.
      const known = before.get('unhandledRejection') as unknown[];
      const crash = process.listeners('unhandledRejection').find((l) => !known.includes(l))!;
      crash(new Error('boom'), Promise.resolve());
      await new Promise((r) => setImmediate(r));
      // process.exit never returns; the mock does, so the first call is the one that ends the process.
      expect(exits[0]).toBe(1);
      expect(lines).toContain('a part failed to stop');
      // The parts after the one that failed still stop.
      expect(stopped).toEqual(['workers']);
    } finally {
      exit.mockRestore();
      for (const e of events) for (const l of process.listeners(e as 'SIGTERM')) if (!before.get(e)!.includes(l)) process.removeListener(e, l as never);
    }
  });

  const stops = async (): Promise<void> => undefined;
  const fails = async (): Promise<void> => {
    throw new Error('redis went away');
  };
  it.each<[string, number, Array<() => Promise<void>>]>([
    ['every part stops', 0, [stops, stops]],
    ['one part fails to stop', 1, [fails, stops]],
  ])('a SIGTERM when %s exits %d: the supervisor must see a stop that went wrong', async (_what, code, parts) => {
    const before = new Map(events.map((e) => [e, process.listeners(e as 'SIGTERM')]));
    const exits: Array<number | undefined> = [];
    const exit = jest.spyOn(process, 'exit').mockImplementation(((c?: number) => {
      exits.push(c);
    }) as never);
    const log = { info: () => undefined, error: () => undefined, fatal: () => undefined } as unknown as import('../../src/logger').Logger;
    const exitCodeBefore = process.exitCode;
    try {
      const { installProcessEnd } = await import('../../src/process-end');
      installProcessEnd(() => undefined).running(log, parts, 2 ** 31 - 1);
      const known = before.get('SIGTERM') as unknown[];
      const sigterm = process.listeners('SIGTERM').find((l) => !known.includes(l))!;
      (sigterm as () => void)();
      await new Promise((r) => setImmediate(r));
      expect(exits).toEqual([code]);
    } finally {
      exit.mockRestore();
      process.exitCode = exitCodeBefore;
      for (const e of events) for (const l of process.listeners(e as 'SIGTERM')) if (!before.get(e)!.includes(l)) process.removeListener(e, l as never);
    }
  });
});
