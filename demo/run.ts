/**
 * npm run demo [-- --interactive]
 *
 * Runs the real gateway against local sandboxes of Primero, RapidPro and a push service, walks through the
 * whole loop in plain words, and wipes what it stored. DEMO_REDIS_URL points it at an existing Redis
 * (its keys live under a private prefix, removed at the end); otherwise it starts its own redis-server.
 */
import { runDemo } from './walkthrough';

const interactive = process.argv.includes('--interactive');

runDemo({ interactive, redisUrl: process.env.DEMO_REDIS_URL })
  .then(() => process.exit(0))
  .catch((err: Error) => {
    console.error(`\nThe demo stopped: ${err.message}`);
    process.exit(1);
  });
