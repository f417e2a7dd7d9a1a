import request from 'supertest';
import { randomUUID } from 'node:crypto';
import { gatewayKey } from '../../src/store/keys';
import { AcceptanceLedger, ReferenceTakenError } from '../../src/store/acceptances';
import { referenceFromSequence } from '../../src/domain/reference';
import { scrapeMetrics, startGateway, uniquePrefix, WEBHOOK_TOKEN, type Gateway } from '../support/gateway';

const referral = () => ({
  contact: { uuid: randomUUID(), urn: 'tel:+250788111222' },
  flow: { uuid: '649754a7-5692-4b14-a1a9-e4c5fe4d18b4' },
  run: { uuid: randomUUID() },
  results: { concern: { value: 'rollback words', category: 'All Responses' } },
});

/**
 * The reference counter went back (a failover to a replica that missed the last INCRBY, an AOF restart that lost
 * its last second) while one API process still issues from the block it took before: the other processes'
 * INCRBY hands out that block again. Without a check the same reference names two people and BullMQ ignores the
 * second add (same job id): an acknowledged message that nothing ever processes.
 */
describe('the reference counter went back', () => {
  const prefix = uniquePrefix('ref-rollback');
  let first: Gateway;
  let second: Gateway;
  const post = (gw: Gateway) => request(gw.app).post('/webhooks/rapidpro/referral').set('Authorization', `Token ${WEBHOOK_TOKEN}`).type('json').send(referral());

  beforeAll(async () => {
    first = await startGateway({ prefix, workers: false });
    second = await startGateway({ prefix, workers: false });
  });

  afterAll(async () => {
    await second.close();
    await first.close();
  });

  it('issues no reference twice, and every acknowledged message has its own job', async () => {
    const counter = gatewayKey(prefix, 'seq', 'reference');
    const refs: string[] = [];
    const accept = async (gw: Gateway) => {
      const res = await post(gw);
      expect(res.status).toBe(202);
      refs.push(res.body.reference as string);
    };
    await accept(first);
    await accept(first);
    // A case was created for the first one and its job is gone (retention): its link still holds the reference.
    await first.redis.del(`${prefix}:intake:m-${refs[0]!}`);
    await first.redis.hset(gatewayKey(prefix, 'ref', refs[0]!), 'caseId', 'case-1');
    await first.redis.set(counter, '0');
    await accept(second);
    await accept(first);
    await accept(second);

    expect(new Set(refs).size).toBe(refs.length);
    // Every acceptance but the first (whose case exists) is a job of its own, none swallowed by a job-id clash.
    const jobs = (await first.queue.getJobs(['waiting', 'prioritized', 'delayed'])).map((j) => j.id).sort();
    expect(jobs).toEqual(refs.slice(1).map((r) => `m-${r}`).sort());
  });

  it('when every reference tried was issued before, answers 503 nothing stored, logs it as that (not as Redis down) and counts it', async () => {
    const gw = await startGateway({ prefix: uniquePrefix('ref-taken'), workers: false });
    try {
      // A fresh counter's first three blocks start at 1, 101 and 201: all three issued before.
      for (const n of [1, 101, 201]) await gw.redis.set(gatewayKey(gw.config.QUEUE_PREFIX, 'issued', referenceFromSequence(n)), '1', 'EX', 60);
      const res = await post(gw);
      expect(res.status).toBe(503);
      expect(res.body.error.message).toContain('nothing was stored');
      expect(gw.logs.text).toContain('the reference counter went back');
      expect(gw.logs.text).not.toContain('Redis unavailable');
      expect(await scrapeMetrics(gw)).toMatch(/gateway_references_already_issued_total\{\} 3/);
    } finally {
      await gw.close();
    }
  });

  describe('the reservation of each reference issued', () => {
    const ledger = () => new AcceptanceLedger(first.redis, prefix, 3600);
    const key = () => `rollback-${randomUUID()}`;

    it("refuses a reference first used as a merge's own, or a follow-up's (whose job is m-<earlier>-<own>, and who files no link of its own)", async () => {
      await ledger().claim(key(), 'MRGE2345', randomUUID(), 60_000, { senderHash: 'sender-hash-1', category: 'complaint', windowSeconds: 600 });
      const merged = await ledger().claim(key(), 'MRGD2345', randomUUID(), 60_000, { senderHash: 'sender-hash-1', category: 'complaint', windowSeconds: 600 });
      expect(merged.acceptance.jobId).toBe('m-MRGE2345-MRGD2345');
      await expect(ledger().claim(key(), 'MRGD2345', randomUUID(), 60_000)).rejects.toThrow(ReferenceTakenError);
      const followUp = await ledger().claim(key(), 'FLWU2345', randomUUID(), 60_000, undefined, undefined, 'MRGE2345');
      expect(followUp.acceptance.jobId).toBe('m-MRGE2345-FLWU2345');
      await expect(ledger().claim(key(), 'FLWU2345', randomUUID(), 60_000)).rejects.toThrow(ReferenceTakenError);
    });

    it('lets exactly one of two claims in flight with the same reference through', async () => {
      const both = await Promise.allSettled([ledger().claim(key(), 'TWIN2345', randomUUID(), 60_000), ledger().claim(key(), 'TWIN2345', randomUUID(), 60_000)]);
      expect(both.map((b) => b.status).sort()).toEqual(['fulfilled', 'rejected']);
    });

    it('answers a repeat of the same idempotency key with its first reference, never refused by its own reservation', async () => {
      const k = key();
      const claimed = await ledger().claim(k, 'RPT02345', randomUUID(), 60_000);
      const repeat = await ledger().claim(k, 'RPT02345', randomUUID(), 60_000);
      expect(repeat).toMatchObject({ fresh: false, acceptance: { reference: 'RPT02345', acceptanceId: claimed.acceptance.acceptanceId } });
    });
  });
});

