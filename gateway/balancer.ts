/**
 * Pure load-balancing state of the gateway (docs/adr/0021): the instances of one service, each
 * with its health and the requests it has in flight, and the choice of the next one.
 *
 * Choice: least pending requests, ties broken round robin (a rotating cursor), so an idle pool
 * alternates like round robin and a slow instance (more in flight) gets fewer new requests.
 *
 * Health, per instance: an active probe (`/readyz`) every few seconds and a passive signal (a
 * connection error while proxying). A connection error ejects at once — it is unambiguous and
 * every further request sent there would fail the same way; failed probes eject after
 * `failuresToEject` in a row (one slow answer under load is not an outage); an ejected instance
 * returns after `successesToReturn` good probes in a row. When every instance of a pool is
 * ejected the pool routes to all of them anyway ("panic" routing, as Envoy does): a wrong
 * verdict then costs nothing, and a real outage fails as it would have.
 */
export type Track = 'stable' | 'canary';

export interface HealthPolicy {
  failuresToEject: number;
  successesToReturn: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = { failuresToEject: 2, successesToReturn: 2 };

export interface Health {
  healthy: boolean;
  /** Consecutive failed probes while healthy, or good probes while ejected. */
  streak: number;
}

export const HEALTHY: Health = { healthy: true, streak: 0 };

/** Pure: the health after one probe (`ok`) or after a connection error while proxying (`passive`). */
export function afterCheck(
  health: Health,
  outcome: 'ok' | 'failed' | 'passive',
  policy: HealthPolicy = DEFAULT_HEALTH_POLICY,
): Health {
  if (outcome === 'passive') return { healthy: false, streak: 0 };
  if (health.healthy) {
    if (outcome === 'ok') return HEALTHY;
    const streak = health.streak + 1;
    return streak >= policy.failuresToEject ? { healthy: false, streak: 0 } : { healthy: true, streak };
  }
  if (outcome === 'failed') return { healthy: false, streak: 0 };
  const streak = health.streak + 1;
  return streak >= policy.successesToReturn ? HEALTHY : { healthy: false, streak };
}

export interface Instance {
  readonly url: string;
  readonly version: string;
  readonly track: Track;
  health: Health;
  pending: number;
  /** Requests sent to it since start (the admin detail; tests). */
  sent: number;
}

export function instance(url: string, version: string, track: Track): Instance {
  return { url, version, track, health: HEALTHY, pending: 0, sent: 0 };
}

/**
 * Pure: the index (in `instances`) to send the next request to, or undefined for an empty pool.
 * Among the healthy instances (all of them when none is), the fewest pending; among those, the
 * first at or after `cursor` in rotation.
 */
export function choose(instances: readonly Instance[], cursor: number): number | undefined {
  if (instances.length === 0) return undefined;
  const healthy = instances.some((i) => i.health.healthy);
  let best: number | undefined;
  for (let step = 0; step < instances.length; step++) {
    const at = (cursor + step) % instances.length;
    const candidate = instances[at];
    if (!candidate || (healthy && !candidate.health.healthy)) continue;
    const current = best === undefined ? undefined : instances[best];
    if (!current || candidate.pending < current.pending) best = at;
  }
  return best;
}

/** The instances of one service: both tracks, with the rotation cursor of each. */
export class ServicePool {
  private readonly cursors: Record<Track, number> = { stable: 0, canary: 0 };

  constructor(
    readonly service: string,
    readonly instances: readonly Instance[],
  ) {}

  of(track: Track): Instance[] {
    return this.instances.filter((i) => i.track === track);
  }

  /** True when the track has an instance able to serve (a canary track with none falls back). */
  serves(track: Track): boolean {
    return this.of(track).some((i) => i.health.healthy);
  }

  /** The next instance of a track; the stable track when the canary has nothing healthy. */
  next(track: Track): Instance | undefined {
    const from = track === 'canary' && !this.serves('canary') ? 'stable' : track;
    const list = this.of(from);
    const at = choose(list, this.cursors[from]);
    if (at === undefined) return undefined;
    this.cursors[from] = (at + 1) % list.length;
    return list[at];
  }
}
