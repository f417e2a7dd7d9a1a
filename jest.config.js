/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': 'ts-jest' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Integration files share one Redis; two workers keep a 2-core machine responsive.
  maxWorkers: 2,
  testTimeout: 30000,
};
