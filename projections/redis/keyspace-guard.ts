/**
 * Notices a lost booking read model and rebuilds it from the event log, by itself.
 *
 * Consumer offsets live in Kafka, the read model in Redis: after a Redis restart without
 * persistence or a FLUSHALL the group's offsets still say "done" and the projector would never
 * look back. The epoch marker (read-models/bookings.ts) is set when the keyspace is known whole;
 * the guard checks it periodically:
 *   marker present                           → nothing to do;
 *   marker absent, no offsets committed yet  → a new read model: the projector builds it from the
 *                                              start; set the marker;
 *   marker absent, offsets committed         → LOST (all of it, or the part that held the marker):
 *                                              rebuild from the event store (projections/rebuild.ts)
 *                                              into a new version, which sets the marker.
 * Content without a marker is never taken for a whole read model: a chaos run deleted a keyspace
 * key by key, the guard looked in the middle, saw content, re-marked it, and 478 bookings were gone
 * for good. Live writes need the marker (APPLY_LUA), so nothing but a rebuild recreates content.
 * While rebuilding, `<root>:rebuilding` holds the progress (the query API marks booking answers
 * stale meanwhile) and the gauge `read_model_rebuild_progress` shows it.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../platform/redis.ts';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../platform/logger.ts';
import { epochKey, rebuildingKey } from '../../read-models/bookings.ts';

export type RebuildProgress = (p: { done: number; total: number }) => void;

export interface KeyspaceGuardDeps {
  redis: RedisClient;
  root: string;
  /** Whether the Redis projector's group has committed any offset (it has projected before). */
  hasProjected: () => Promise<boolean>;
  rebuild: (onProgress: RebuildProgress) => Promise<void>;
  logger: Logger;
  registry: Registry;
  intervalMs?: number;
}

export type GuardOutcome = 'intact' | 'marked' | 'rebuilt' | 'busy';

const REBUILD_LEASE_SECONDS = 120;

export interface KeyspaceGuard {
  /** One check (and the rebuild when needed); the timer calls it too. */
  check(): Promise<GuardOutcome>;
  /**
   * Before the projector starts: marks a new read model (its group never committed), so that its
   * first commit cannot make it look lost to the first check. Never rebuilds.
   */
  markIfNew(): Promise<'intact' | 'marked' | 'unmarked'>;
  stop(): void;
}

export function guardKeyspace(deps: KeyspaceGuardDeps): KeyspaceGuard {
  const { redis, root } = deps;
  deps.registry.removeSingleMetric('read_model_rebuild_progress');
  deps.registry.removeSingleMetric('read_model_rebuilds_total');
  const progress = new Gauge({
    name: 'read_model_rebuild_progress',
    help: 'Automatic rebuild of a lost booking read model: fraction done (1 when none is running)',
    registers: [deps.registry],
  });
  progress.set(1);
  const rebuilds = new Counter({
    name: 'read_model_rebuilds_total',
    help: 'Automatic rebuilds of a lost booking read model, by outcome',
    labelNames: ['outcome'] as const,
    registers: [deps.registry],
  });

  let running: Promise<GuardOutcome> | undefined;
  const check = () => (running ??= once().finally(() => (running = undefined)));

  async function markIfNew(): Promise<'intact' | 'marked' | 'unmarked'> {
    if ((await redis.exists(epochKey(root))) === 1) return 'intact';
    if (await deps.hasProjected()) {
      // Looked at again after the (slow) offsets query: a check that ran while the start's own
      // markIfNew was marking a new keyspace saw no marker, and by the time the query answered the
      // projector had written into the marked keyspace and committed; that is no loss.
      return (await redis.exists(epochKey(root))) === 1 ? 'intact' : 'unmarked';
    }
    await redis.set(epochKey(root), randomUUID(), 'NX');
    return 'marked';
  }

  async function once(): Promise<GuardOutcome> {
    // Another instance is rebuilding: its new version's content is not the whole log yet.
    if ((await redis.exists(epochKey(root))) === 0 && (await redis.exists(rebuildingKey(root))) === 1) {
      return 'busy';
    }
    const state = await markIfNew();
    if (state !== 'unmarked') return state;
    // Lost. One rebuild at a time across instances: the flag is also the lease.
    const claimed = await redis.set(
      rebuildingKey(root),
      JSON.stringify({ startedAt: new Date().toISOString(), done: 0, total: 0 }),
      'EX',
      REBUILD_LEASE_SECONDS,
      'NX',
    );
    if (claimed !== 'OK') return 'busy';
    deps.logger.warn(
      { root },
      'booking read model lost (no epoch marker, offsets committed): rebuilding from the event log',
    );
    const startedAt = new Date().toISOString();
    progress.set(0);
    try {
      await deps.rebuild(({ done, total }) => {
        progress.set(total > 0 ? Math.min(1, done / total) : 0);
        void redis
          .set(rebuildingKey(root), JSON.stringify({ startedAt, done, total }), 'EX', REBUILD_LEASE_SECONDS)
          .catch(() => undefined);
      });
      await redis.set(epochKey(root), randomUUID());
      rebuilds.inc({ outcome: 'done' });
      deps.logger.info({ root }, 'booking read model rebuilt');
      return 'rebuilt';
    } catch (err) {
      rebuilds.inc({ outcome: 'failed' });
      throw err;
    } finally {
      progress.set(1);
      await redis.del(rebuildingKey(root)).catch(() => undefined);
    }
  }

  const timer = setInterval(() => {
    check().catch((err: unknown) => deps.logger.warn({ err }, 'read-model keyspace check failed'));
  }, deps.intervalMs ?? 5_000).unref();
  return { check, markIfNew, stop: () => clearInterval(timer) };
}
