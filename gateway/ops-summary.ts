/**
 * What the ops page draws: each service's request rate, error rate and P99 over the last minutes,
 * from consecutive scrapes of its admin /metrics (counters and histogram buckets are cumulative,
 * so a point is the difference of two scrapes), plus the latest relay and projector lag, cache hit
 * ratio and dead-lettered messages.
 */
import { has, type Sample, sumOf } from './prom-text.ts';

export interface Scrape {
  at: number;
  up: boolean;
  samples: Sample[];
}

export interface Point {
  t: number;
  rps: number;
  errorRate: number;
  p99Ms: number | null;
}

export interface ServiceSummary {
  name: string;
  up: boolean;
  points: Point[];
  relayLagSeconds: number | null;
  projectionLagEvents: number | null;
  cacheHitRatio: number | null;
  deadLettered: number | null;
}

const HTTP = 'http_request_duration_seconds';
const isError = (l: Record<string, string>) => Number(l.status_code) >= 500;

/** Cumulative count per bucket bound (le), summed over routes. */
function buckets(samples: readonly Sample[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${HTTP}_bucket` || s.labels.le === undefined) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/** The P99 bound (ms) of the requests between two scrapes, null when there were none. */
export function p99Between(before: readonly Sample[], after: readonly Sample[]): number | null {
  const a = buckets(before);
  const b = buckets(after);
  const bounds = [...b.keys()].sort((x, y) => x - y);
  const total = (b.get(Infinity) ?? 0) - (a.get(Infinity) ?? 0);
  if (total <= 0) return null;
  for (const le of bounds) {
    if ((b.get(le) ?? 0) - (a.get(le) ?? 0) >= 0.99 * total) return Number.isFinite(le) ? le * 1000 : null;
  }
  return null;
}

export function pointBetween(before: Scrape, after: Scrape): Point {
  const seconds = Math.max(0.001, (after.at - before.at) / 1000);
  const count = (s: Scrape, where?: (l: Record<string, string>) => boolean) =>
    sumOf(s.samples, `${HTTP}_count`, where);
  const requests = Math.max(0, count(after) - count(before));
  const errors = Math.max(0, count(after, isError) - count(before, isError));
  return {
    t: after.at,
    rps: requests / seconds,
    errorRate: requests === 0 ? 0 : errors / requests,
    p99Ms: p99Between(before.samples, after.samples),
  };
}

const gauge = (
  samples: readonly Sample[],
  name: string,
  reduce: 'sum' | 'max' | 'avg' = 'sum',
): number | null => {
  const found = samples.filter((s) => s.name === name && Number.isFinite(s.value)).map((s) => s.value);
  if (found.length === 0) return null;
  if (reduce === 'max') return Math.max(...found);
  const sum = found.reduce((x, y) => x + y, 0);
  return reduce === 'avg' ? sum / found.length : sum;
};

export function summarise(name: string, scrapes: readonly Scrape[]): ServiceSummary {
  const ok = scrapes.filter((s) => s.up);
  const points: Point[] = [];
  for (let i = 1; i < ok.length; i++) points.push(pointBetween(ok[i - 1]!, ok[i]!));
  const last = ok.at(-1)?.samples ?? [];
  return {
    name,
    up: scrapes.at(-1)?.up ?? false,
    points,
    relayLagSeconds: gauge(last, 'relay_lag_seconds', 'max'),
    projectionLagEvents: gauge(last, 'projection_lag_events'),
    cacheHitRatio: gauge(last, 'query_cache_hit_ratio', 'avg'),
    deadLettered: has(last, 'projector_messages_total')
      ? sumOf(last, 'projector_messages_total', (l) => l.outcome === 'dead_lettered')
      : null,
  };
}
