import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Each script's SHA1, computed once. */
const shas = new Map<string, string>();

const isNoScript = (err: unknown) => err instanceof Error && err.message.startsWith('NOSCRIPT');

/**
 * Runs a Lua script by its SHA1 (EVALSHA), sending its text (EVAL) only when Redis answers NOSCRIPT (after a
 * restart or SCRIPT FLUSH), which runs nothing: EVAL of the text on every call sent the ledger's ~2 KB claim
 * with every accepted message. Plain commands, not ioredis's defineCommand: a command defined on a connection
 * after an auto-pipeline was opened is missing from that pipeline, and the pipeline's other replies with it.
 */
export async function runScript(redis: Redis, lua: string, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
  let sha = shas.get(lua);
  if (sha === undefined) shas.set(lua, (sha = createHash('sha1').update(lua).digest('hex')));
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return redis.eval(lua, keys.length, ...keys, ...args);
  }
}
