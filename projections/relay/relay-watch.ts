/**
 * The relay's freshness, watched in the background: how many seconds behind it is, and which
 * transaction (if any) holds it back. Exposed as gauges (read from the last samples: a scrape never
 * queries PostgreSQL) and as a readiness check that turns the process `degraded` with the holder's
 * pid, database, application and age once it has held the relay back longer than the budget (an
 * age counted from its first sighting when PostgreSQL hides its start from this role: a lower bound).
 */
import { Gauge, type Registry } from 'prom-client';
import type { Checkpoint } from '../../platform/event-store/event-store.ts';
import type { HealthCheck } from '../../platform/http/health.ts';
import type { Queryable } from '../../platform/pg.ts';
import { startSampler, type Sampler } from '../../platform/sampler.ts';
import {
  ageHolder,
  type AgedHolder,
  describeHolder,
  type FirstSeen,
  relayHolder,
  relayLagSeconds,
} from './held-back.ts';

export interface RelayWatchOptions {
  pool: Queryable;
  checkpoint: () => Checkpoint | undefined;
  registry: Registry;
  /** A holder older than this makes the process degraded. */
  budgetSeconds: number;
  intervalMs: number;
  timeoutMs: number;
}

export interface RelayWatch {
  check: HealthCheck;
  report(): Record<string, unknown>;
  stop(): void;
}

export function watchRelay(opts: RelayWatchOptions): RelayWatch {
  const sampling = { intervalMs: opts.intervalMs, timeoutMs: opts.timeoutMs };
  // When the holder's start is hidden from our role, its age counts from its first sighting here.
  let seen: FirstSeen | undefined;
  const holder: Sampler<AgedHolder | null> = startSampler({
    name: 'relay-held-back',
    read: async () => {
      const aged = ageHolder(await relayHolder(opts.pool), seen, Date.now());
      seen = aged.seen;
      return aged.holder ?? null;
    },
    ...sampling,
  });
  const lagSeconds = startSampler({
    name: 'relay-lag-seconds',
    read: () => relayLagSeconds(opts.pool, opts.checkpoint()),
    ...sampling,
  });
  const current = () => holder.lastGood()?.value ?? null;
  // A relay restarted in the same process (tests, the benchmark) takes over its gauges.
  for (const name of ['relay_lag_seconds', 'relay_held_back_seconds', 'relay_holding_pid']) {
    opts.registry.removeSingleMetric(name);
  }

  new Gauge({
    name: 'relay_lag_seconds',
    help: 'Age of the oldest event the relay has not published yet (0 when none is pending)',
    registers: [opts.registry],
    collect() {
      const last = lagSeconds.lastGood();
      if (last) this.set(last.value);
    },
  });
  new Gauge({
    name: 'relay_held_back_seconds',
    help:
      'How long the transaction holding the relay back has been open, at least (counted from its first' +
      ' sighting when its start is hidden from this role; 0: none holds it back)',
    registers: [opts.registry],
    collect() {
      this.set(current()?.ageSeconds ?? 0);
    },
  });
  new Gauge({
    name: 'relay_holding_pid',
    help: 'Backend pid of the transaction holding the relay back (0: none)',
    registers: [opts.registry],
    collect() {
      this.set(current()?.pid ?? 0);
    },
  });

  return {
    check: () => {
      const h = current();
      if (h && h.ageSeconds >= opts.budgetSeconds) throw new Error(describeHolder(h));
    },
    report: () => ({ heldBackBy: current(), lagSeconds: lagSeconds.report() }),
    stop: () => {
      holder.stop();
      lagSeconds.stop();
    },
  };
}
