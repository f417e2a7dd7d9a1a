/** The chaos suite: real Redis processes started and killed by the tests, bounded in time. `npm run chaos`. */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testMatch: ['<rootDir>/test/chaos/**/*.test.ts'],
  maxWorkers: 1,
  testTimeout: 120000,
};
