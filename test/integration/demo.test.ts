import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { runDemo } from '../../demo/walkthrough';
import { TEST_REDIS_URL, uniquePrefix } from '../support/gateway';

const ROOT = path.join(__dirname, '..', '..');

describe('npm run demo', () => {
  it('walks the whole loop, every step it claims really happened, and it leaves nothing in Redis', async () => {
    const prefix = uniquePrefix('demo');
    const lines: string[] = [];
    const report = await runDemo({ redisUrl: TEST_REDIS_URL, prefix, say: (l) => lines.push(l) });

    // The referral: the Primero sandbox holds the case under the reference the gateway answered.
    const referral = report.primero.cases.get(report.referral.caseId)!;
    expect(referral.other_agency_id).toBe(report.referral.reference);
    expect(referral.case_id_display).toBe(report.referral.caseIdDisplay);
    expect(lines.join('\n')).toContain(`reference ${report.referral.reference}`);

    // The decrypted pushes: triage for the new referral, the caseworker after the assignment, no child details.
    expect(report.pushes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ device: 'triage-phone', title: 'New referral to triage', url: `${report.primero.url}/v2/cases/${report.referral.caseId}` }),
        expect.objectContaining({ device: 'caseworker-phone', title: 'Case assigned to you', url: `${report.primero.url}/v2/cases/${report.referral.caseId}` }),
      ]),
    );
    expect(JSON.stringify(report.pushes)).not.toMatch(/Demo Child|not safe|250788000001/);

    // The flow starts: received then in_progress for the referral, with only the reference and status.
    const starts = report.rapidpro.starts.filter((s) => s.params.reference === report.referral.reference);
    expect(starts.map((s) => s.params.status)).toEqual(['received', 'in_progress']);
    expect(starts[0]!.urns).toEqual(['tel:+250788000001']);

    // The complaint, its duplicate (nothing new), and the outage (retried, then created once).
    expect(report.primero.cases.get(report.complaint.caseId)!.other_id_no).toBe('feedback-complaint');
    expect(report.duplicate).toMatchObject({ reference: report.complaint.reference, duplicate: true });
    expect(report.duplicate.primeroCasesAfter).toBe(report.duplicate.primeroCasesBefore);
    expect(report.outage.failedCalls).toBeGreaterThan(0);
    expect([...report.primero.cases.values()].filter((c) => c.other_agency_id === report.outage.reference)).toHaveLength(1);

    // Two-way: the caseworker's note reached the child once through the reply flow, its outcome came back as a
    // note; the child's answer joined the same case and alerted the caseworker; STATUS told the child's own status.
    const tw = report.twoWay;
    const replyStarts = report.rapidpro.starts.filter((s) => s.params.text !== undefined);
    expect(replyStarts).toHaveLength(1);
    expect(replyStarts[0]).toMatchObject({ urns: ['tel:+250788000001'], params: { text: tw.caseworkerText, reference: report.referral.reference } });
    expect(tw.outcomeSubject).toMatch(/^Message to reporter: sent \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
    expect(tw.followUp.body).toMatchObject({ reference: report.referral.reference, follow_up: true });
    expect(tw.followUpSubject).toBe('Message from reporter (RapidPro)');
    expect(report.primero.notesOf(report.referral.caseId).map((n) => n.note_text)).toEqual(expect.arrayContaining([tw.caseworkerText, tw.childText]));
    expect([...report.primero.cases.values()].filter((c) => c.other_agency_id === report.referral.reference)).toHaveLength(1);
    expect(tw.push.body).toContain(report.referral.caseIdDisplay);
    expect(JSON.stringify(report.pushes)).not.toContain('safe time');
    expect(tw.status).toEqual({ reference: report.referral.reference, status: 'in_progress' });
    expect(lines.join('\n')).not.toContain(tw.childText);

    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      await redis.quit();
    }
  }, 60000);

  it('npm start without PRIMERO_URL refuses to start, names what is missing and points to the demo', async () => {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    const run = promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(ROOT, 'src', 'main.ts'), 'all'], { cwd: path.join(ROOT, 'test'), env });
    await expect(run).rejects.toMatchObject({ code: 1 });
    const err = (await run.catch((e: { stderr: string }) => e)) as { stderr: string };
    expect(err.stderr).toContain('PRIMERO_URL: is required but not set');
    expect(err.stderr).toContain('.env.example');
    expect(err.stderr).toContain('npm run demo');
    expect(err.stderr).not.toMatch(/\n\s+at /);
  }, 30000);
});
