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
    // Scripts that print for a person: the bench, the demo, the chaos suite's measurements.
    files: ['bench/**', 'demo/**', 'test/chaos/**', 'jest.config.js'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
);
