import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  config: { node_flags: string };
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
const compose = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');

describe('production runs compiled JavaScript', () => {
  it.each(['start', 'start:api', 'start:worker'])('npm run %s runs node on dist/ with the heap flags, built first when stale', (script) => {
    expect(pkg.scripts[script]).toMatch(/^node \$npm_package_config_node_flags dist\/src\/main\.js (all|api|worker)$/);
    expect(pkg.scripts[`pre${script}`]).toBe('node scripts/build-if-stale.mjs');
  });

  it("runs the image with package.json's heap flags, so npm start and the image hold the same memory", () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    expect(entrypoint).toEqual(['node', ...pkg.config.node_flags.split(' '), 'dist/src/main.js']);
    expect(pkg.config.node_flags).toMatch(/--max-old-space-size=\d+/);
  });

  it('emits nothing when the build has type errors, so a broken build never replaces a working dist/', () => {
    const build = JSON.parse(readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
    expect(build.compilerOptions.noEmitOnError).toBe(true);
  });

  it('keeps tsx out of the production dependencies', () => {
    expect(Object.keys(pkg.dependencies)).not.toContain('tsx');
    expect(Object.keys(pkg.devDependencies)).toContain('tsx');
  });

  it('builds the image on a supported Node LTS and starts it without tsx', () => {
    const bases = [...dockerfile.matchAll(/^FROM\s+node:(\d+)/gm)].map((m) => Number(m[1]));
    expect(bases.length).toBeGreaterThan(0);
    for (const major of bases) expect([22, 24]).toContain(major);
    expect(dockerfile).toMatch(/ENTRYPOINT \[.*"dist\/src\/main\.js"\]/);
    expect(dockerfile).not.toMatch(/tsx/);
  });
});

describe('the compose file is safe by default', () => {
  it('gives Redis a password and a memory ceiling, so noeviction applies', () => {
    expect(compose).toMatch(/requirepass "%s".*"\$\$\(cat \/run\/secrets\/redis_password\)"/);
    expect(compose).toMatch(/--maxmemory \$\{REDIS_MAXMEMORY:-\d+[mg]b\}/);
    expect(compose).toMatch(/--maxmemory-policy noeviction/);
  });

  it('keeps the Redis password out of every argument, variable and URL (docker inspect shows them all)', () => {
    expect(compose).not.toMatch(/--requirepass|REDISCLI_AUTH:|\$\{REDIS_PASSWORD[}:]|redis:\/\/:[^@\s]*@/);
    expect(compose.match(/REDIS_URL: redis:\/\/redis:6379\n\s+REDIS_PASSWORD_FILE: \/run\/secrets\/redis_password/g)).toHaveLength(2);
    expect(compose).toMatch(/^secrets:\n\s+redis_password:\n\s+file: /m);
  });

  it('publishes no port on every interface by default, and the admin port on loopback only', () => {
    const ports = [...compose.matchAll(/^\s+- "([^"]*:\d+)"$/gm)].map((m) => m[1]!);
    // The monitoring profile's too: Prometheus has no login at all, Grafana only a password; both on loopback.
    expect(ports).toEqual(['${GATEWAY_BIND:-127.0.0.1}:${PORT:-3000}:3000', '127.0.0.1:${ADMIN_PUBLISH_PORT:-9090}:9090', '127.0.0.1:${PROMETHEUS_PUBLISH_PORT:-9091}:9090', '127.0.0.1:${GRAFANA_PUBLISH_PORT:-3001}:3000']);
    expect(compose).toMatch(/ADMIN_PORT: "9090"/);
  });
});
