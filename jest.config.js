/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The chaos suite kills processes and restarts Redis: it runs on its own (npm run chaos, called by .ci/run).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/chaos/'],
  // A Redis on REDIS_URL (started when none answers) and Chromium, or one line saying what to install.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  // Integration files share one Redis; two workers keep a 2-core machine responsive.
  maxWorkers: 2,
  testTimeout: 30000,
};
