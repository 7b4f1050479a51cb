// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/**
 * The import graph, enforced: which top-level directory may import which. Imports are relative,
 * so a file reaches another top-level directory only through `../` (once or more) followed by
 * that directory's name; `into(dirs)` matches exactly those specifiers.
 *
 *   domain/       imports nothing but domain/ and zod (pure)
 *   platform/     adapters: domain/ at most, never a process or a read-model contract
 *   read-models/  the contract between projections/ (writers) and query-api/ (reader): pure
 *   command-api/, projections/, query-api/   never each other; query-api/ not the event store's adapters
 *   supervisor/, infra/, connectors/, tests/, bench/   process roots and tools: anything
 *   contracts/    the generator of the published event contracts (a tool): anything
 *   clients/      the typed API clients users import (index.ts: generated types and openapi-fetch only)
 */
const TOP_LEVEL = [
  'domain',
  'platform',
  'read-models',
  'supervisor',
  'command-api',
  'projections',
  'query-api',
  'notifications',
  'gateway',
  'web',
  'connectors',
  'requests',
  'infra',
  'tests',
  'bench',
  'contracts',
  'clients',
];
const into = (/** @type {string[]} */ dirs) => `^(\\.\\./)+(${dirs.join('|')})(/|$)`;
const layer = (
  /** @type {string} */ dir,
  /** @type {string[]} */ forbidden,
  /** @type {string} */ why,
  /** @type {{ regex: string, message: string }[]} */ more = [],
) => ({
  files: [`${dir}/**`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: into(forbidden),
            message: `${dir}/ must not import ${forbidden.map((d) => `${d}/`).join(', ')}: ${why}`,
          },
          ...more,
        ],
      },
    ],
  },
});

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'coverage/**',
      '.cache/**',
      '**/*.js',
      '**/*.cjs',
      '**/*.tmp.*',
      'web/dist/**',
      'web/test-results/**',
      // No Vue ESLint plugin is installed: .vue files are type-checked by vue-tsc (npm run typecheck) only.
      '**/*.vue',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
    },
  },
  {
    files: ['tests/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  layer(
    'query-api',
    ['projections', 'command-api'],
    'it reads the read models through read-models/ (the contract), not through their writers',
    [
      {
        // Checkpoints stay opaque outside the store: the port (event-store.ts, checkpoint.ts, index.ts) only.
        regex: '^(\\.\\./)+platform/event-store/(pg-|esdb-)',
        message: 'query-api/ reaches the event store through its port (event-store.ts), not an adapter',
      },
    ],
  ),
  layer(
    'projections',
    ['query-api', 'command-api'],
    'projectors write the read models (read-models/) from events, they do not call the APIs',
  ),
  layer(
    'command-api',
    ['query-api', 'projections'],
    'the write side decides from the event store only, never from read models',
  ),
  layer(
    'platform',
    ['infra', 'connectors', 'projections', 'query-api', 'command-api', 'supervisor', 'read-models'],
    'adapters and cross-cutting code are imported by processes, not the other way round',
  ),
  layer(
    'read-models',
    ['projections', 'query-api', 'command-api', 'supervisor', 'infra', 'connectors', 'tests', 'bench'],
    'the contract both sides import may only build on domain/ and platform/',
    [
      {
        regex: '^(node:|ioredis$|pg$|pg-|kafkajs$|express$|@elastic/|@opensearch-project/)',
        message: 'read-models/ is pure (key layouts, document types, names): no I/O clients',
      },
    ],
  ),
  layer(
    'domain',
    TOP_LEVEL.filter((d) => d !== 'domain'),
    'the domain is pure booking logic and depends on nothing',
    // zod: its schemas are pure values, and the events are defined once with it. immutable: the
    // persistent maps evolve moves a state on with, pure values too (docs/adr/0027).
    [
      {
        regex: '^(?!(zod|immutable)$)[^.]',
        message: 'domain/ is pure: no packages but zod and immutable, no node: built-ins',
      },
    ],
  ),
  layer(
    'gateway',
    ['command-api', 'query-api', 'projections', 'requests', 'notifications'],
    'the gateway reaches the services over HTTP only (proxy, admin /metrics)',
  ),
  layer(
    'web',
    TOP_LEVEL.filter((d) => d !== 'web' && d !== 'clients'),
    'the browser app knows the APIs through the generated client types (clients/) only',
  ),
  {
    // What users of the API import: the generated types and openapi-fetch, never the servers'
    // code (clients/generate.ts, a build tool, reads the route specs).
    files: ['clients/index.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\.\\./', message: 'clients/index.ts must not import the platform' }] },
      ],
    },
  },
  prettier,
);
