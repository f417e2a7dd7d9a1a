import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', module: 'writable', require: 'readonly' } },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Browser code: the enrollment page and its service worker.
    files: ['public/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { self: 'readonly', window: 'readonly', document: 'readonly', navigator: 'readonly', fetch: 'readonly', location: 'readonly', atob: 'readonly', Notification: 'readonly', URLSearchParams: 'readonly' },
    },
  },
  {
    // The entry point and the bench print for humans before a logger exists.
    files: ['src/main.ts', 'src/cli/**', 'bench/**', 'demo/**', 'test/chaos/**', 'jest.config.js'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
);
