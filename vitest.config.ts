import { defineConfig } from 'vitest/config';
import { intWorkers } from './tests/support/test-run.ts';

// Two tiers, told apart by file name: *.unit.spec.ts (pure logic, no I/O) and
// *.int.spec.ts / *.e2e.spec.ts (real engines).
//
// Integration files spend most of their time waiting on Kafka, Connect, PostgreSQL and the search
// node, so they run in INT_WORKERS workers (default 3) side by side, each in a namespace of its own
// (tests/support/worker-namespace.ts). The files below assert short intervals (a second or two) or
// drive bursts the 2 cores only just absorb: a neighbour's load would make their clocks lie, so
// they run afterwards, one at a time, as all integration files used to. Crash and takeover tests wait with wide margins and
// run in parallel.
const SERIAL = [
  'api-health', // probes answered within 1 s
  'connection-hygiene', // idle and header timeouts measured
  'flow-inbound', // warm-up slope and paced-queue timing
  'flow-cluster', // QPS windows shared through Redis
  'flow-live-rules', // a rule reaches two instances within 2 s
  'flow-outbound', // breaker opens within 100 ms; slow-call ratio
  'command-rate-limit', // per-second budgets
  'projections-health', // readiness within 1 s of a stall
  'read-your-writes', // a write visible within 1 s
  'query-api', // a CDC change served within 1 s
  'supervisor-watchdog', // a restart within 1 s
  'notifications', // the notifier's clock moved by hand, reminders due at set times
  // Bursts of hundreds of concurrent requests: a neighbour's load stretched them past the
  // servers' connection timeouts (socket hang up) in a parallel run.
  'slots-race',
  'booking-contention',
].map((name) => `tests/int/${name}.*.spec.ts`);

const INTEGRATION = ['**/*.int.spec.ts', '**/*.e2e.spec.ts'];
const workers = intWorkers();

const integration = {
  globalSetup: ['tests/support/global-setup.ts'],
  setupFiles: ['tests/support/worker-namespace.ts'],
  testTimeout: 60_000,
  hookTimeout: 240_000,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.unit.spec.ts'],
          exclude: ['node_modules/**'],
          maxWorkers: workers,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'int',
          include: INTEGRATION,
          exclude: ['node_modules/**', ...SERIAL],
          maxWorkers: workers,
          sequence: { groupOrder: 0 },
          ...integration,
        },
      },
      {
        test: {
          name: 'int-serial',
          include: SERIAL,
          exclude: ['node_modules/**'],
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
          ...integration,
        },
      },
    ],
  },
});
