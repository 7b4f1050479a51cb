import { defineConfig } from 'vitest/config';

// Two tiers, told apart by file name: *.unit.spec.ts (pure logic, no I/O) and
// *.int.spec.ts / *.e2e.spec.ts (real engines). Integration files run one at a time
// because they share one Kafka, one Connect worker and one search node on a 2-core box.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.unit.spec.ts'],
          exclude: ['node_modules/**'],
        },
      },
      {
        test: {
          name: 'int',
          include: ['**/*.int.spec.ts', '**/*.e2e.spec.ts'],
          exclude: ['node_modules/**'],
          globalSetup: ['tests/support/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
