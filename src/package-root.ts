import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The folder holding package.json, found upwards from this file: `src/` under tsx and `dist/src/` in the
 * build both lead to it, so public/ and flows/ are found the same way in either layout.
 */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
