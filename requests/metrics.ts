/**
 * The request processor's metrics (docs/adr/0015), on its admin port's /metrics: requests decided
 * by outcome, the size of each decided chunk (one transaction, one durable commit), how long a
 * chunk took to decide and commit, and the consumer group's lag per partition of
 * `booking.requests` (sampled in the background: a scrape never waits on Kafka).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PartitionLag } from '../projections/runtime/lag.ts';

export interface RequestMetrics {
  chunkDecided(r: { booked: number; rejected: number; skipped: number; seconds: number }): void;
  lag(partitions: readonly PartitionLag[]): void;
  pendingRemoved(n: number): void;
}

export function requestMetrics(registry: Registry): RequestMetrics {
  const decided = new Counter({
    name: 'booking_requests_decided_total',
    help: 'Booking requests decided by this processor, by outcome (booked, rejected)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const skipped = new Counter({
    name: 'booking_requests_skipped_total',
    help: 'Redelivered booking requests found already decided (or never accepted) and skipped',
    registers: [registry],
  });
  const batch = new Histogram({
    name: 'booking_request_batch_size',
    help: 'Requests decided in one transaction (one durable commit)',
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'booking_request_decide_seconds',
    help: 'Time to decide and commit one chunk of requests (load, decide, one transaction)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'booking_requests_consumer_lag',
    help: 'Records of booking.requests the processor group has not decided and committed, per partition',
    labelNames: ['partition'],
    registers: [registry],
  });
  const removed = new Counter({
    name: 'booking_requests_pending_removed_total',
    help: 'Accepted requests never acknowledged by Kafka (left pending) removed by the sweeper',
    registers: [registry],
  });
  // Zero from the start, so rate() and the alert rules see the series before the first decision.
  decided.inc({ outcome: 'booked' }, 0);
  decided.inc({ outcome: 'rejected' }, 0);
  return {
    chunkDecided(r) {
      decided.inc({ outcome: 'booked' }, r.booked);
      decided.inc({ outcome: 'rejected' }, r.rejected);
      skipped.inc(r.skipped);
      if (r.booked + r.rejected > 0) {
        batch.observe(r.booked + r.rejected);
        latency.observe(r.seconds);
      }
    },
    lag(partitions) {
      for (const p of partitions) lag.set({ partition: String(p.partition) }, p.lag);
    },
    pendingRemoved(n) {
      removed.inc(n);
    },
  };
}
