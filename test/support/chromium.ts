import { existsSync } from 'node:fs';
import path from 'node:path';

/** Where Debian, Ubuntu and Google install it; CHROMIUM_PATH, when set, is the only place looked at. */
const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

export type ChromiumLookup = { found: true; path: string } | { found: false; problem: string };

export function findChromium(env: NodeJS.ProcessEnv = process.env): ChromiumLookup {
  const wanted = env.CHROMIUM_PATH;
  if (wanted) {
    return existsSync(wanted) ? { found: true, path: wanted } : { found: false, problem: `Chromium not found at CHROMIUM_PATH=${wanted}: apt-get install chromium, or point CHROMIUM_PATH at a Chromium or Chrome binary` };
  }
  const dirs = ['/usr/bin', ...(env.PATH ?? '').split(path.delimiter).filter(Boolean)];
  for (const dir of dirs) for (const name of NAMES) if (existsSync(path.join(dir, name))) return { found: true, path: path.join(dir, name) };
  return { found: false, problem: `Chromium not found (looked for ${NAMES.join(', ')}): apt-get install chromium, or set CHROMIUM_PATH` };
}

/**
 * CI must run every test, so there a missing Chromium fails the run (.ci/run installs it); elsewhere the browser
 * test is skipped with that one line, so a machine without a browser still gets a meaningful run of the rest.
 */
export const browserTestRequired = (env: NodeJS.ProcessEnv = process.env): boolean => Boolean(env.CI) || env.REQUIRE_BROWSER_TEST === '1';
