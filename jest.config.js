/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The chaos suite kills processes and restarts Redis: it runs on its own (npm run chaos, called by .ci/run).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/chaos/'],
  // Integration files share one Redis; two workers keep a 2-core machine responsive.
  maxWorkers: 2,
  testTimeout: 30000,
};
