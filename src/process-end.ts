import type { Logger } from './logger';

type Crash = 'uncaughtException' | 'unhandledRejection';
export type Stop = (deadlineMs: number) => Promise<void>;
/** What began the stop: a signal, or a crash (its event). */
type Stopping = { signal: 'SIGTERM' | 'SIGINT'; cause?: undefined } | { cause: Crash; signal?: undefined };

/** Code identifiers only: a constructor named anything else was not named by code. */
const IDENTIFIER = /^[A-Za-z_$][\w$]{0,63}$/;

/**
 * The class of what was thrown, and nothing else of it. Not its message: an error nobody handled can come from
 * anywhere, and messages quote their input (JSON.parse quotes the text it failed on, a library names the URL it
 * called). Not its fields: an axios error holds the request's config and body, a child's name and number with them.
 * Not even a `constructor` field of its own: a plain object parsed from an upstream body can carry
 * `{"constructor":{"name":…}}`. Only its prototype's constructor, a function, whose name code chose.
 */
export function thrownClass(thrown: unknown): string {
  if (thrown === null || (typeof thrown !== 'object' && typeof thrown !== 'function')) return `(a thrown ${thrown === null ? 'null' : typeof thrown})`;
  try {
    const made: unknown = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(thrown) ?? {}, 'constructor')?.value;
    if (typeof made !== 'function') return 'unknown';
    // Its own `name`, read as data: a static getter could return anything.
    const name: unknown = Object.getOwnPropertyDescriptor(made, 'name')?.value;
    return typeof name === 'string' && IDENTIFIER.test(name) ? name : 'unknown';
  } catch {
    return '(an object that refused to be read)';
  }
}

/** A frame's own code location, last on its line: `(file:line:col)` or bare `file:line:col`. */
const LOCATION = /([^\s()]+:\d+:\d+)\)?$/;

/**
 * Where it was thrown: `file:line:col` of the stack's first frames, nothing else of them. Not the stack's first
 * line, which is the message; not a frame's function name, which V8 takes from a computed object key
 * (`{[contact.name]: () => …}` gives `at Object.Amani`). Only when the stack starts with exactly the message line,
 * so a message spanning lines is never taken for frames; a frame with no location (native) is left out.
 */
export function thrownAt(thrown: unknown, frames = 5): string[] {
  try {
    if (!(thrown instanceof Error) || typeof thrown.stack !== 'string') return [];
    const head = String(thrown);
    if (!thrown.stack.startsWith(`${head}\n`)) return [];
    const lines = thrown.stack.slice(head.length + 1).split('\n').slice(0, frames).map((line) => line.trim());
    return lines.filter((line) => line.startsWith('at ')).flatMap((line) => LOCATION.exec(line)?.[1] ?? []);
  } catch {
    return [];
  }
}

export interface ProcessEnd {
  /** From here on a crash is logged through the gateway's logger (before: one plain line on standard error). */
  useLogger(logger: Logger): void;
  /** The gateway runs: SIGTERM and SIGINT stop it and exit 0; a crash stops it the same way and exits 1. */
  running(logger: Logger, stops: readonly Stop[], deadlineMs: number): void;
}

/**
 * How the process ends. Node's own ending for an uncaught exception or an unhandled rejection prints the whole error
 * to standard error, fields and all; here a crash is one line naming its class, then the stop SIGTERM runs, bounded
 * by the same deadline, then exit 1. One root cause often rejects several promises in the same tick, so further
 * rejections during a crash's stop are counted (the first of them logged, by class) and the stop goes on. An
 * uncaught exception during a crash's stop, or any crash during a signal's stop, exits 1 at once: whatever is
 * stopping is what failed.
 */
export function installProcessEnd(say: (line: string) => void): ProcessEnd {
  let logger: Logger | null = null;
  let stopAll: ((why: Stopping, code: 0 | 1) => Promise<void>) | null = null;
  let stopping: Stopping | null = null;
  let laterRejections = 0;

  const crashed = (event: Crash) => (thrown: unknown) => {
    const errorClass = thrownClass(thrown);
    if (stopping?.cause && event === 'unhandledRejection') {
      laterRejections += 1;
      if (laterRejections === 1) logger?.error({ event, errorClass }, 'another error nothing handled while stopping: the stop goes on');
      return;
    }
    const what = stopping ? 'crashed while stopping: exiting now' : stopAll ? 'crashed on an error nothing handled: stopping' : 'crashed on an error nothing handled while starting: exiting';
    if (logger) logger.fatal({ event, errorClass, at: thrownAt(thrown) }, what);
    else say(`The gateway ${what} (${event}, ${errorClass}).`);
    if (stopping || !stopAll) process.exit(1);
    void stopAll({ cause: event }, 1);
  };
  process.on('uncaughtException', crashed('uncaughtException'));
  process.on('unhandledRejection', crashed('unhandledRejection'));

  return {
    useLogger(l) {
      logger = l;
    },
    running(log, stops, deadlineMs) {
      logger = log;
      const stop = async (why: Stopping, code: 0 | 1) => {
        if (stopping) return;
        stopping = why;
        log.info({ ...why, deadlineMs }, 'shutting down');
        const hardStop = setTimeout(() => {
          log.error({ laterRejections }, 'shutdown deadline passed; exiting');
          process.exit(1);
        }, deadlineMs);
        hardStop.unref();
        // Whatever ends the process from here (the deadline, or nothing left to keep it alive), a crash exits 1.
        if (code === 1) process.exitCode = 1;
        let failed = false;
        // API first, so nothing new is accepted while the workers finish what they hold. A part that fails to stop
        // (Redis gone is a common cause of the crash itself) does not keep the others from stopping; the exit is 1.
        for (const one of stops) {
          try {
            await one(deadlineMs - 1000);
          } catch (err) {
            failed = true;
            log.error({ errorClass: thrownClass(err) }, 'a part failed to stop');
          }
        }
        log.info(why.cause ? { laterRejections } : {}, 'stopped');
        process.exit(failed ? 1 : code);
      };
      stopAll = stop;
      process.on('SIGTERM', () => void stop({ signal: 'SIGTERM' }, 0));
      process.on('SIGINT', () => void stop({ signal: 'SIGINT' }, 0));
    },
  };
}
