/**
 * Loaded into a gateway process by a test (`node --import`), never by the gateway: the first SIGUSR2 leaves a
 * promise rejected with nothing to handle it, as a forgotten `await` on a failed call would. Its error carries a
 * child's name and number the way an axios error does: in its message, its request config and body, its answer.
 * CRASH_WITH=exception throws instead; CRASH_REJECTIONS=n rejects n promises in the same tick (one root cause, many
 * awaits). With CRASH_AGAIN_WHILE_STOPPING set, an exception follows at once, thrown while the first crash's stop runs.
 */
import { CRASH_MARKS as MARKED } from './crash-marks';

class UpstreamError extends Error {
  readonly config = { url: `https://rapidpro.example.org/api/v2/contacts.json?urn=tel:${MARKED.phone}`, data: JSON.stringify({ name: MARKED.name, text: MARKED.text }) };
  readonly response = { status: 400, data: { errors: [`${MARKED.phone} is not a valid contact`] } };
  constructor() {
    super(`request for ${MARKED.name} (${MARKED.phone}) failed`);
  }
}

process.once('SIGUSR2', () => {
  if (process.env.CRASH_WITH === 'exception') throw new UpstreamError();
  const rejections = Number(process.env.CRASH_REJECTIONS ?? '1');
  for (let i = 0; i < rejections; i++) void Promise.reject(new UpstreamError());
  if (process.env.CRASH_AGAIN_WHILE_STOPPING) setImmediate(() => { throw new UpstreamError(); });
});
