import { createHook } from 'node:async_hooks';
import { eventually } from './eventually';

/** The name of redis-parser's (lib/parser.js) interval callback: the one way to tell its timer from any other. */
const SHRINK = 'decreaseBufferPool';

export interface ParserShrinkWatch {
  /** Resolves once every shrink timer started since the watch began has stopped; fails past `timeoutMs`. */
  stopped(timeoutMs?: number): Promise<void>;
}

/**
 * ioredis's reply parser (redis-parser) copies a reply that spans socket reads into a buffer pool it grows to three
 * times that reply, then shrinks the pool by a tenth every 50 ms on a referenced interval. It clears that interval
 * only once the pool is under 50 KiB again, which takes one to two seconds after a reply of a few hundred KiB. It
 * stops that late even when every connection is closed, and nothing can stop it sooner. A jest worker whose last file
 * read a value that large is then force-exited ("A worker process has failed to exit gracefully"). A file that
 * stores values that large watches from its start and waits for the timer at its end.
 */
export function watchParserShrink(): ParserShrinkWatch {
  const running = new Set<number>();
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type === 'Timeout' && (resource as { _onTimeout?: { name?: string } })._onTimeout?.name === SHRINK) running.add(id);
    },
    // A cleared interval is destroyed at once (Node's timers emit destroy on clearInterval).
    destroy(id) {
      running.delete(id);
    },
  }).enable();
  return {
    async stopped(timeoutMs = 15000) {
      try {
        await eventually(() => running.size === 0, timeoutMs, "the Redis reply parser's buffer-pool shrink timer to stop");
      } finally {
        hook.disable();
      }
    },
  };
}
