/**
 * The health of a projection process (projections/, projections/catalog/) from its parts, in the
 * terms of platform/http/health.ts:
 *   liveness   the relay loop is alive; no projector stopped for good (restart me otherwise);
 *   readiness  started, Kafka answers (background probe), every other dependency answers
 *              (direct checks under a deadline), the relay's last batch did not fail, and no
 *              projector (nor the relay) is further behind than LAG_BUDGET_EVENTS.
 * Lag is never awaited on the request path: each source is sampled in the background and the
 * last value with its age is reported.
 */
import type { HealthCheck, HealthOptions } from '../platform/http/health.ts';
import type { SamplerView } from '../platform/sampler.ts';
import type { RelayStatus } from './relay/relay.ts';
import { describeError } from './runtime/errors.ts';

/** Projectors watched for a permanent stop: their `done` rejects when kafkajs gave up. */
export interface WatchedProjector {
  readonly name: string;
  readonly done: Promise<void>;
}

export interface ProjectionsHealthParts {
  /** Current relay, if this process runs one. */
  relay: () => { status(): RelayStatus } | undefined;
  kafka: SamplerView<number>;
  /** Other dependencies, each a direct check (e.g. `pool.query('SELECT 1')`). */
  dependencies: Record<string, HealthCheck>;
  lag: () => readonly SamplerView<number>[];
  /** Events behind (per projector or relay) past which the process reports itself degraded. */
  lagBudgetEvents: number;
  isStarted: () => boolean;
  isStopping: () => boolean;
  details?: () => Record<string, unknown>;
}

/** Remembers projectors whose loop ended for good, as liveness checks. */
export function deathWatch(): {
  watch(p: WatchedProjector): void;
  checks(): Record<string, HealthCheck>;
} {
  const dead = new Map<string, string>();
  const watched = new Set<string>();
  return {
    watch(p) {
      watched.add(p.name);
      p.done.catch((err: unknown) => dead.set(p.name, describeError(err)));
    },
    checks: () =>
      Object.fromEntries(
        [...watched].map((name) => [
          `projector:${name}`,
          () => {
            const reason = dead.get(name);
            if (reason !== undefined) throw new Error(`stopped for good: ${reason}`);
          },
        ]),
      ),
  };
}

function relayLiveness(relay: () => { status(): RelayStatus } | undefined): HealthCheck {
  return () => {
    const s = relay()?.status();
    if (s && !s.alive) throw new Error(`relay loop crashed: ${s.lastError ?? 'unknown'}`);
  };
}

function relayPublishing(relay: () => { status(): RelayStatus } | undefined): HealthCheck {
  return () => {
    const s = relay()?.status();
    if (s && s.consecutiveErrors > 0) {
      throw new Error(`${s.consecutiveErrors} batch(es) failed in a row: ${s.lastError ?? ''}`);
    }
  };
}

/**
 * Lag over budget is a dependency-style failure: degraded (and not ready), never a restart, since
 * a restart would only add a rejoin to the delay. It reads the last samples, never Kafka itself.
 */
function lagWithinBudget(lag: () => readonly SamplerView<number>[], budget: number): HealthCheck {
  return () => {
    const over = lag()
      .map((s) => ({ name: s.name, good: s.lastGood() }))
      .filter((s) => s.good !== undefined && s.good.value > budget)
      .map((s) => `${s.name} ${s.good?.value ?? 0} events behind (sampled ${s.good?.ageMs ?? 0} ms ago)`);
    if (over.length) throw new Error(`over budget of ${budget}: ${over.join(', ')}`);
  };
}

/** The health options of a projection process; `hasRelay` when it runs (or will run) the relay. */
export function projectionsHealth(
  parts: ProjectionsHealthParts & { hasRelay: boolean },
  watch: ReturnType<typeof deathWatch>,
): HealthOptions {
  const relayReady: Record<string, HealthCheck> = parts.hasRelay
    ? { 'relay-publish': relayPublishing(parts.relay) }
    : {};
  return {
    // A getter: projectors join the watch as they start.
    get liveness() {
      return { ...(parts.hasRelay ? { relay: relayLiveness(parts.relay) } : {}), ...watch.checks() };
    },
    checks: {
      kafka: () => parts.kafka.check(),
      ...parts.dependencies,
      ...relayReady,
      lag: lagWithinBudget(parts.lag, parts.lagBudgetEvents),
    },
    isStarted: parts.isStarted,
    isShuttingDown: parts.isStopping,
    details: () => ({
      ...parts.details?.(),
      kafka: parts.kafka.report(),
      lag: Object.fromEntries(parts.lag().map((s) => [s.name, s.report()])),
    }),
  };
}
