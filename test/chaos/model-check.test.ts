import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { violations } from './model-check/invariants';
import { execute, scheduleArb, type Command, type Run } from './model-check/schedule';
import { World } from './model-check/world';

/**
 * The randomized model check (issue #11): bounded random schedules of messages, re-deliveries, Primero
 * faults, process kills, Redis stalls and restarts, purges and replays, against the real gateway
 * processes; after each schedule quiesces, what Primero and the dead letters hold is checked against what
 * the senders were answered. MODEL_CHECK_RUNS sets how many random schedules run (CI: the default),
 * MODEL_CHECK_SEED replays one.
 */
const RUNS = Number(process.env.MODEL_CHECK_RUNS ?? 40);
const SEED = process.env.MODEL_CHECK_SEED ? Number(process.env.MODEL_CHECK_SEED) : Date.now() % 2 ** 31;
// About 2 s per schedule on 2 cores; the budget bounds shrinking a failure too (the best shrink so far is printed).
const BUDGET_MS = Number(process.env.MODEL_CHECK_BUDGET_MS ?? Math.max(180_000, RUNS * 4_000));

let world: World;

beforeAll(async () => {
  world = new World();
  await world.start();
}, 90_000);

afterAll(async () => {
  await world?.stop();
}, 60_000);

/** Runs one schedule from a clean Primero and returns the broken promises. */
async function check(schedule: Command[]): Promise<string[]> {
  world.primero.reset();
  const run: Run = { salt: randomBytes(3).toString('hex'), messages: [], epoch: 0, deadLetters: new Map(), refusals: false, outOfScope: false };
  for (const c of schedule) await execute(world, run, c);
  await execute(world, run, { t: 'settle' });
  const found = await violations(world, run);
  if (found.length && process.env.MODEL_CHECK_DEBUG) {
    const messages = run.messages.map((m, i) => ({ i, text: m.text, epoch: m.epoch, answers: m.deliveries.map((d) => [d.status, d.reference, d.duplicate]) }));
    const records = [...world.primero.records.values()].map((r) => ({ ref: r.data.other_agency_id, text: r.data.protection_concerns_other, referrals: r.referrals.length, patches: r.patches }));
    process.stderr.write(`${JSON.stringify({ schedule, messages, records, deadLetters: await world.deadLetters() }, null, 1)}\n`);
  }
  // A schedule that leaves Primero refusing or Redis refusing must not leak into the next one.
  world.primero.reset();
  return found;
}

async function expectHolds(schedule: Command[]): Promise<void> {
  expect(await check(schedule)).toEqual([]);
}

describe('model check: what was acknowledged reaches Primero exactly once', () => {
  describe('named schedules, one per defect of issue #11', () => {
    test('1. two reports merged at once, and a report whose words are part of an earlier one, all stay in the record', () =>
      expectHolds([
        { t: 'send', intent: 'feedback', sender: 0 },
        { t: 'settle' },
        { t: 'together', sends: [{ intent: 'feedback', sender: 0 }, { intent: 'feedback', sender: 0 }, { intent: 'feedback', sender: 0 }] },
        { t: 'send', intent: 'feedback', sender: 0, prefixOf: 0 },
      ]));

    test('2. a report whose store failed does not poison its sender\'s merge window', () =>
      expectHolds([
        { t: 'refuseScripts', intent: 'feedback', sender: 1 },
        { t: 'send', intent: 'feedback', sender: 1 },
      ]));

    test('3. a re-delivery after the retention purge, inside the window, answers the first reference', () =>
      expectHolds([
        { t: 'send', intent: 'referral', sender: 0 },
        { t: 'settle' },
        { t: 'purge' },
        { t: 'redeliver', of: 0 },
      ]));

    test('4. the same answers (editor body, no run) sent again after the window are a new report with its own record', () =>
      expectHolds([
        { t: 'send', intent: 'referral', sender: 0, runless: true },
        { t: 'windowPasses' },
        { t: 'redeliver', of: 0 },
      ]));

    test('5. a worker killed after Primero committed the referral does not refer twice', () =>
      expectHolds([
        { t: 'fault', route: 'refer', fault: 'commit-then-hang', n: 1 },
        { t: 'send', intent: 'referral', sender: 0 },
        { t: 'killWorker', whenPrimeroSees: 'refer' },
      ]));

    test('6. a message answered 503 (Redis stalled past the deadline) produces no record', () =>
      expectHolds([{ t: 'stallRedis', intent: 'referral', sender: 0 }]));

    test('7. the retention purge keeps unreviewed dead letters', () =>
      expectHolds([
        { t: 'fault', route: 'create', fault: '422', n: 1 },
        { t: 'send', intent: 'referral', sender: 0 },
        { t: 'settle' },
        { t: 'purge' },
      ]));

    if (process.env.MODEL_CHECK_SCHEDULE) test('the schedule in MODEL_CHECK_SCHEDULE (a counterexample, as printed)', () => expectHolds(JSON.parse(process.env.MODEL_CHECK_SCHEDULE!) as Command[]));

    test('8. a simulator run is answered and creates nothing', () => expectHolds([{ t: 'simulate', intent: 'referral', sender: 0 }]));
  });

  describe('named schedules for what the model check found beyond issue #11', () => {
    // Found by a random schedule (seed 878438815). The gateway filed the two re-runs alone, one record each, as it
    // should; the check could not tell two records holding the same words apart and called both unaccounted for.
    test('two new runs of the same answers, each refused its merge with 403, are each filed alone, and nothing else is', () =>
      expectHolds([
        { t: 'send', intent: 'feedback', sender: 0 },
        { t: 'fault', route: 'update', fault: '403', n: 2 },
        { t: 'newRun', of: 0 },
        { t: 'newRun', of: 0 },
        { t: 'send', intent: 'referral', sender: 0 },
      ]));

    // Found by a cold review: a merged report's write failed unanswered (500), then met a 403; kept as a dead letter
    // (merge_unconfirmed), never filed as a second record.
    test('a merged report whose write may have landed and which then meets a 403 is a dead letter, not a second record', () =>
      expectHolds([
        { t: 'send', intent: 'feedback', sender: 0 },
        { t: 'settle' },
        { t: 'fault', route: 'update', fault: '500', n: 1 },
        { t: 'fault', route: 'update', fault: '403', n: 1 },
        { t: 'send', intent: 'feedback', sender: 0 },
      ]));

    test('a message in flight during two worker crashes still reaches Primero (not a "stalled" dead letter)', () =>
      expectHolds([
        { t: 'fault', route: 'create', fault: 'commit-then-hang', n: 2 },
        { t: 'send', intent: 'referral', sender: 0 },
        { t: 'killWorker', whenPrimeroSees: 'create' },
        { t: 'killWorker', whenPrimeroSees: 'create' },
      ]));
    test('a report merged into one whose worker died mid-create waits for it, using no attempt, and joins its record', () =>
      expectHolds([
        { t: 'together', sends: [{ intent: 'feedback', sender: 0 }, { intent: 'referral', sender: 0 }] },
        { t: 'killWorker', whenPrimeroSees: 'create' },
        { t: 'send', intent: 'feedback', sender: 0 },
      ]));
  });

  test(`${RUNS} random schedules (seed ${SEED})`, async () => {
    let ran = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(scheduleArb, async (schedule) => {
        ran++;
        const found = await check(schedule);
        if (found.length) throw new Error(`broken promises:\n  ${found.join('\n  ')}`);
      }),
      { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: BUDGET_MS, markInterruptAsFailure: false, verbose: 1, endOnFailure: Boolean(process.env.MODEL_CHECK_NO_SHRINK) },
    );
    // An interrupted check (past its time budget) passes with fewer schedules: say how many really ran.
    process.stderr.write(`model check: ${ran} schedules (seed ${SEED}) in ${Math.round((Date.now() - started) / 1000)} s\n`);
  }, BUDGET_MS + 120_000);
});
