import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The rooms' walls (see issue #14): pure domain code does no I/O, clients know nothing of queues, stores or
// express, and no HTTP route reaches into a worker.
const nodeIo = ['fs', 'fs/promises', 'http', 'https', 'net'].flatMap((name) => [name, `node:${name}`]);
const io = ['express', 'ioredis', 'bullmq', 'axios', 'web-push', 'pino', ...nodeIo];
const inside = (...rooms) => rooms.flatMap((room) => [`**/${room}`, `**/${room}/**`]);
const restrict = (paths, groups, message) => ({
  paths: paths.map((name) => ({ name, message })),
  patterns: groups.map((group) => ({ ...group, message })),
});

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
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        restrict(
          io,
          // A channel's name is a type the message schema needs; the channel list itself loads routes. Beyond
          // the rooms named here, nothing outside src/domain is imported at runtime (config, logger, data files).
          [
            { group: inside('store', 'queues', 'clients', 'http', 'notifications', 'admin', 'intake', 'cases', 'workers') },
            { group: inside('channels'), allowTypeImports: true },
            { group: ['../*', '../**'], allowTypeImports: true },
          ],
          'src/domain is pure: no I/O, and nothing from the rooms that do it.',
        ),
      ],
    },
  },
  {
    files: ['src/http/**/*.ts', 'src/channels/**/*.ts', 'src/console/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', restrict([], [{ group: inside('workers') }], 'Routes never import workers: they store a job and answer.')],
    },
  },
  ...[
    { files: ['src/clients/**/*.ts'] },
    // After the routes' block on purpose: a channel's reply sender is a client, and the later block's rule wins.
    // `../*` is the channels folder seen from a channel's own (its index, parsers, routes); `../../` is src/.
    { files: ['src/channels/*/reply-sender.ts'], sibling: { group: ['../*', '!../..', '!../../**'] } },
  ].map(({ files, sibling }) => ({
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        restrict(
          ['bullmq', 'ioredis', 'express'],
          [{ group: inside('queues', 'http', 'channels', 'workers') }, { group: inside('store'), allowTypeImports: true }, ...(sibling ? [sibling] : [])],
          'A client calls one outside service: no queue, store, channel or express code (a store type is fine).',
        ),
      ],
    },
  })),
  {
    // Small files with one job each: a file over 250 lines or a function over 60 has more than one.
    files: ['src/**/*.ts', 'workers/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 250 }],
      'max-lines-per-function': ['error', { max: 60 }],
    },
  },
);
