// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layers import one way: src/lib <- src/core/<subsystem> <- src/api <- src/cli, src/main.ts;
 * src/manager (what the composition root in src/main.ts is made of) sits below src/main.ts only.
 * src/sdk is published for app authors and imports nothing of the manager.
 * A subsystem is reached only through its index.ts.
 */
const onlySubsystemIndex = [
  {
    regex: '^(\\.\\./)+core/[^/]+/(?!index\\.js$)',
    message: 'Import a subsystem only through its index.ts.',
  },
];
/** Inside src/core, a sibling subsystem is reached through its index.ts too. */
const onlySiblingIndex = [
  {
    regex: '^\\.\\./(?!\\.\\.)[^/]+/(?!index\\.js$)',
    message: 'Import another subsystem only through its index.ts.',
  },
];
const layer = (files, forbidden, extra = []) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...forbidden.map((dir) => ({
            regex: `^(\\.\\./)+${dir}(/|$)`,
            message: `This layer must not import from src/${dir} (see DESIGN.md, "Layers").`,
          })),
          ...extra,
        ],
      },
    ],
  },
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'data/**',
      'src/ui/**',
      'examples/**',
      'bench/fixtures/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // With noUncheckedIndexedAccess, an assertion after a check is clearer than a re-check.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Only entry points read process.env; take config instead.',
        },
        {
          object: 'process',
          property: 'exit',
          message: 'Only entry points call process.exit.',
        },
      ],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['bin/**', 'scripts/**', 'examples/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly' } },
    rules: { 'no-restricted-properties': 'off' },
  },
  layer(['src/lib/**'], ['core', 'api', 'cli', 'manager', 'sdk', 'ui']),
  layer(['src/core/**'], ['api', 'cli', 'manager', 'sdk', 'ui'], onlySiblingIndex),
  layer(['src/api/**'], ['cli', 'manager', 'sdk', 'ui'], onlySubsystemIndex),
  layer(['src/manager/**'], ['cli', 'sdk', 'ui'], onlySubsystemIndex),
  layer(['src/cli/**'], ['manager', 'sdk', 'ui'], onlySubsystemIndex),
  // The SDK shares only pure files with the manager, which it bundles (scripts/bundle-sdk.mjs):
  // the protocol's messages and their checks, the AppWebsocket login (node:crypto), the JSON
  // answer writer and what pg's errors mean.
  layer(
    ['src/sdk/**'],
    ['core', 'api', 'cli', 'manager', 'ui'],
    [
      {
        regex: '^(\\.\\./)+lib/(?!(service-protocol|app-login|pg-errors|http-json)\\.js$)',
        message:
          'The SDK imports nothing of the manager but lib/service-protocol.js, lib/app-login.js, lib/pg-errors.js and lib/http-json.js.',
      },
    ],
  ),
  // The test kit may also find and run PostgreSQL's programs as another user (pure files too).
  layer(
    ['src/sdk/testing/**'],
    ['core', 'api', 'cli', 'manager', 'ui'],
    [
      {
        regex:
          '^(\\.\\./)+lib/(?!(service-protocol|app-login|pg-errors|http-json|postgres-binaries|os-users|folder-access)\\.js$)',
        message:
          'The test kit imports of src/lib only what the SDK may, and postgres-binaries, os-users and folder-access.',
      },
    ],
  ),
  {
    // The admin UI is a client of the API: it takes the API's types, never the manager's code.
    files: ['ui/**/*.ts', 'ui/**/*.tsx'],
    ignores: ['ui/vite.config.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // src/lib/format.ts is shared with the CLI and bundled: free of Node imports.
              regex: '(^|/)src/(?!lib/format\\.js$)',
              allowTypeImports: true,
              message: 'The UI imports only types of the manager (import type).',
            },
          ],
        },
      ],
      'no-restricted-properties': 'off',
    },
  },
  {
    // Entry points, tests and benchmarks may touch the process.
    files: ['src/main.ts', 'src/cli/index.ts', 'test/**', 'bench/**', '**/*.test.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['test/**', '**/*.test.ts', 'bench/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'describe', 'it'], package: 'node:test' },
          ],
        },
      ],
    },
  },
);
