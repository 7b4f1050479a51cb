/**
 * Per-institution delivery figures on /metrics (docs/adr/0016): lag, pending and parked counts and
 * the breaker state are read from the outbox and the senders when scraped; attempts and their
 * durations are counted as they happen.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { registerDependencyMetrics } from '../platform/flow/outbound.ts';
import type { Pool } from '../platform/pg.ts';
import type { Outcome } from './institution-sender.ts';
import { queueStats, type QueueStats } from './outbox.ts';
import type { Senders } from './senders.ts';

const BREAKER_STATES = ['closed', 'open', 'half-open', 'isolated'] as const;

export function deliveryMetrics(registry: Registry, pool: Pool, senders: () => Senders | undefined) {
  const attempts = new Counter({
    name: 'delivery_attempts_total',
    help: 'Delivery attempts per institution by outcome: delivered, retry (failed, tried again), rejected (breaker open, not sent), parked',
    labelNames: ['institution', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'delivery_attempt_seconds',
    help: 'Duration of a delivery attempt (sign, send, answer) per institution',
    labelNames: ['institution'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: 'delivery_dead_lettered_total',
    help: 'Records of the events topic the delivery ingest could not read (undecodable, unknown schema version, schema mismatch), sent to its dead-letter topic',
    registers: [registry],
  });
  // One query per scrape feeds the three gauges read from the outbox.
  let cached: { at: number; stats: Promise<QueueStats[]> } | undefined;
  const stats = () => {
    if (!cached || Date.now() - cached.at > 500)
      cached = { at: Date.now(), stats: queueStats(pool).catch(() => []) };
    return cached.stats;
  };
  const fromStats = (name: string, help: string, pick: (s: QueueStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['institution'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const s of await stats()) this.set({ institution: s.institutionId }, pick(s));
      },
    });
  fromStats(
    'delivery_lag_seconds',
    'Age of the oldest delivery not yet delivered, per institution',
    (s) => s.lagSeconds,
  );
  fromStats('delivery_pending', 'Deliveries waiting to be sent, per institution', (s) => s.pending);
  fromStats(
    'delivery_parked',
    'Deliveries parked (waiting for an admin replay), per institution',
    (s) => s.parked,
  );
  new Gauge({
    name: 'delivery_breaker_state',
    help: 'Breaker state per institution: 1 for the current state (closed, open, half-open, isolated), 0 otherwise',
    labelNames: ['institution', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of senders()?.all() ?? [])
        for (const state of BREAKER_STATES)
          this.set({ institution: s.institutionId, state }, s.breakerState === state ? 1 : 0);
    },
  });
  registerDependencyMetrics(registry, () =>
    (senders()?.all() ?? []).flatMap((s) => (s.guard ? [s.guard] : [])),
  );
  return {
    onOutcome: (institution: string, outcome: Outcome, seconds: number) => {
      attempts.inc({ institution, outcome });
      if (outcome !== 'rejected') duration.observe({ institution }, seconds);
    },
    onDeadLettered: (count: number) => deadLettered.inc(count),
  };
}
