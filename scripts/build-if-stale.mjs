// prestart: `npm start` runs the compiled JavaScript in dist/; build it first when it is missing or older
// than any source file. In an image built with the Dockerfile there are no sources (and no compiler): nothing to do.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist', 'src', 'main.js');
const sources = ['src', 'workers'].map((d) => path.join(root, d)).filter((d) => existsSync(d));

function newest(dir) {
  let latest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    latest = Math.max(latest, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return latest;
}

if (sources.length > 0) {
  const built = existsSync(entry) ? statSync(entry).mtimeMs : 0;
  const changed = Math.max(statSync(path.join(root, 'tsconfig.build.json')).mtimeMs, ...sources.map(newest));
  if (built < changed) {
    process.stderr.write('dist/ is missing or older than the sources: building (npm run build)…\n');
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  }
}
