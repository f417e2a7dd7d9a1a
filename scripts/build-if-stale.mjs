// prestart: `npm start` runs the compiled JavaScript in dist/; build it first when it is missing or older than
// a source file, a tsconfig*.json or package-lock.json. In an image built with the Dockerfile there are no sources:
// nothing to do. Without the compiler (npm ci --omit=dev) a stale or missing dist/ is one clear line and exit 1.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist', 'src', 'main.js');
const sources = ['src', 'workers'].map((d) => path.join(root, d)).filter((d) => existsSync(d));
const fail = (line) => {
  process.stderr.write(`${line}\n`);
  process.exit(1);
};

function newest(dir) {
  let latest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    latest = Math.max(latest, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return latest;
}

function compiler() {
  try {
    return createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return null;
  }
}

if (sources.length > 0) {
  const built = existsSync(entry) ? statSync(entry).mtimeMs : 0;
  const settings = readdirSync(root)
    .filter((f) => /^tsconfig.*\.json$/.test(f) || f === 'package-lock.json')
    .map((f) => statSync(path.join(root, f)).mtimeMs);
  if (built < Math.max(...settings, ...sources.map(newest))) {
    const tsc = compiler();
    if (!tsc) fail('dist/ is missing or older than the sources, and the TypeScript compiler is not installed: run `npm ci` then `npm run build`.');
    process.stderr.write('dist/ is missing or older than the sources: building (npm run build)…\n');
    try {
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
    } catch {
      fail('The build failed (see the errors above): dist/ was left as it was; fix them and run `npm run build`.');
    }
  }
}
