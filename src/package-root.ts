import { existsSync } from 'node:fs';
import path from 'node:path';

// This file runs as src/package-root.ts (tsx, ts-jest) or as dist/src/package-root.js (the build, tsconfig's outDir
// `dist`). The root is the first folder up from here that holds package.json, checked once at load, so a checkout
// whose own folder is named dist resolves the same.
function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The folder holding package.json, public/ and flows/, in either layout. */
export const PACKAGE_ROOT = packageRoot(path.dirname(__dirname));
