/**
 * The request processor's health (docs/adr/0015), in the terms of platform/http/health.ts:
 *   liveness   the consumer has not crashed for good (kafkajs gave up restarting it): restart me;
 *   readiness  joined its group, Kafka answers (background probe), PostgreSQL answers, the group's
 *              lag sample is fresh and within REQUEST_LAG_BUDGET — over budget is degraded, never a
 *              restart (a rejoin would only add to the delay).
 * Nothing here waits on Kafka: the probe and the lag are sampled in the background.
 */
import type { HealthCheck, HealthOptions } from '../platform/http/health.ts';
import type { SamplerView } from '../platform/sampler.ts';
import type { PartitionLag } from '../projections/runtime/lag.ts';

export interface ProcessorHealthParts {
  postgres: HealthCheck;
  kafka: SamplerView<number>;
  lag: SamplerView<{ total: number; partitions: PartitionLag[] }>;
  lagBudget: number;
  /** Why the consumer stopped for good, if it did. */
  crashed: () => string | undefined;
  isJoined: () => boolean;
  isStopping: () => boolean;
  details: () => Record<string, unknown>;
}

export function processorHealth(p: ProcessorHealthParts): HealthOptions {
  return {
    liveness: {
      consumer: () => {
        const reason = p.crashed();
        if (reason !== undefined) throw new Error(`consumer stopped for good: ${reason}`);
      },
    },
    checks: {
      postgres: p.postgres,
      kafka: () => p.kafka.check(),
      lag: () => {
        p.lag.check();
        const total = p.lag.lastGood()?.value.total ?? 0;
        if (total > p.lagBudget)
          throw new Error(`${total} requests behind, over the budget of ${p.lagBudget}`);
      },
    },
    isStarted: p.isJoined,
    isShuttingDown: p.isStopping,
    details: () => ({
      ...p.details(),
      kafka: p.kafka.report(),
      lag: p.lag.report(),
    }),
  };
}
