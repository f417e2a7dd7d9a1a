import { createHash } from 'node:crypto';
import type { RedisConnection } from '../queues/connection';

/**
 * A Lua script sent by its SHA1 (EVALSHA): Redis caches scripts by hash, so the text crosses the wire and is
 * hashed by Redis only the first time (and again after a Redis restart or SCRIPT FLUSH, when Redis answers
 * NOSCRIPT without running anything and the text is sent once more). Same script, same keys, same result as EVAL.
 * Plain commands, not ioredis's defineCommand: a command defined on a connection after an auto-pipeline was opened
 * is missing from that pipeline, and the pipeline's other replies with it.
 */
export class LuaScript {
  private readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: RedisConnection, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
