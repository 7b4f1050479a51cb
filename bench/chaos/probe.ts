/**
 * Samples, every 250 ms and side by side, the truth and what the read sides show for a set of
 * schedules: the event store's count of their bookings, the query API's (what patients see: the
 * doctors' schedules pages, through its caches) and the search index's.
 */
import type pg from 'pg';
import type { Sample } from './freshness.ts';

export interface ProbedSchedule {
  scheduleId: string;
  doctorId: string;
  date: string;
}

export interface ProbeTargets {
  pool: pg.Pool;
  queryUrl: string;
  searchUrl: string;
  appointmentsAlias: string;
  schedules: readonly ProbedSchedule[];
  /** Each service's public base URL: its /healthz is sampled once a second. */
  healthUrls?: Record<string, string>;
}

/** What the services' /healthz said during the window. */
export interface HealthSeen {
  /** Slowest answer in ms (a timeout counts as the 2 s deadline), and answers that timed out. */
  slowestMs: number;
  timedOut: number;
  /** Statuses other than ok, per service, with the first reason given. */
  notOk: Record<string, { status: string; reason?: string }>;
}

export interface Series {
  store: Sample[];
  reads: Sample[];
  index: Sample[];
  /** Query API answers that said they were stale (X-Data-Stale), by reason. */
  labelledStale: Record<string, number>;
  health: HealthSeen;
}

const TIMEOUT_MS = 1_000;

export async function storeCount(t: ProbeTargets): Promise<number> {
  const { rows } = await t.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM events WHERE stream_id = ANY($1) AND event_type = 'AppointmentBooked'`,
    [t.schedules.map((s) => `schedule-${s.scheduleId}`)],
  );
  return rows[0]?.n ?? 0;
}

/** Bookings the query API shows per schedule; undefined when any page does not answer 200. */
export async function readCounts(
  t: ProbeTargets,
  labelled?: Record<string, number>,
): Promise<Map<string, number> | undefined> {
  const counts = new Map<string, number>();
  const pages = await Promise.all(
    t.schedules.map(async (s) => {
      const url = `${t.queryUrl}/v1/doctors/${s.doctorId}/schedules?from=${s.date}&to=${s.date}`;
      const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (res.status !== 200) return undefined;
      const stale = res.headers.get('x-data-stale');
      if (stale && labelled) labelled[stale] = (labelled[stale] ?? 0) + 1;
      return (await res.json()) as { schedules: { scheduleId: string; booked: number }[] };
    }),
  ).catch(() => undefined);
  if (!pages || pages.some((p) => p === undefined)) return undefined;
  for (const page of pages) for (const s of page?.schedules ?? []) counts.set(s.scheduleId, s.booked);
  return counts;
}

/** Appointment documents in the index per schedule; undefined when the engine does not answer. */
export async function indexCounts(t: ProbeTargets): Promise<Map<string, number> | undefined> {
  const res = await fetch(`${t.searchUrl}/${t.appointmentsAlias}/_search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      size: 0,
      query: { terms: { scheduleId: t.schedules.map((s) => s.scheduleId) } },
      aggs: { bySchedule: { terms: { field: 'scheduleId', size: t.schedules.length } } },
    }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).catch(() => undefined);
  if (res?.status !== 200) return undefined;
  const body = (await res.json()) as {
    aggregations: { bySchedule: { buckets: { key: string; doc_count: number }[] } };
  };
  return new Map(body.aggregations.bySchedule.buckets.map((b) => [b.key, b.doc_count]));
}

const HEALTH_DEADLINE_MS = 2_000;

async function sampleHealth(urls: Record<string, string>, seen: HealthSeen): Promise<void> {
  await Promise.all(
    Object.entries(urls).map(async ([service, url]) => {
      const t0 = performance.now();
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(HEALTH_DEADLINE_MS) }).catch(
        (err: unknown) => err,
      );
      seen.slowestMs = Math.max(seen.slowestMs, Math.min(performance.now() - t0, HEALTH_DEADLINE_MS));
      if (!(res instanceof Response)) {
        const timedOut = res instanceof DOMException && res.name === 'TimeoutError';
        if (timedOut) seen.timedOut += 1;
        seen.notOk[service] ??= { status: timedOut ? 'no answer in 2 s' : 'unreachable' };
        return;
      }
      const body = (await res.json().catch(() => ({}))) as { status?: string; reasons?: string[] };
      if (body.status !== 'ok') {
        seen.notOk[service] ??= { status: body.status ?? String(res.status), reason: body.reasons?.[0] };
      }
    }),
  );
}

const total = (m: Map<string, number> | undefined): number | undefined =>
  m === undefined ? undefined : [...m.values()].reduce((a, b) => a + b, 0);

export function startProbe(t: ProbeTargets, intervalMs = 250): { series: Series; stop(): Promise<Series> } {
  const series: Series = {
    store: [],
    reads: [],
    index: [],
    labelledStale: {},
    health: { slowestMs: 0, timedOut: 0, notOk: {} },
  };
  let running: Promise<void> | undefined;
  let healthDue = 0;
  let healthRunning: Promise<void> | undefined;
  const tick = async () => {
    const at = Date.now();
    if (t.healthUrls && at >= healthDue) {
      healthDue = at + 1_000;
      healthRunning ??= sampleHealth(t.healthUrls, series.health).finally(() => (healthRunning = undefined));
    }
    const [store, reads, index] = await Promise.all([
      storeCount(t).catch(() => undefined),
      readCounts(t, series.labelledStale).catch(() => undefined),
      indexCounts(t).catch(() => undefined),
    ]);
    series.store.push({ at, count: store });
    series.reads.push({ at, count: total(reads) });
    series.index.push({ at, count: total(index) });
  };
  const timer = setInterval(() => {
    running ??= tick().finally(() => (running = undefined));
  }, intervalMs);
  return {
    series,
    async stop() {
      clearInterval(timer);
      await running;
      await healthRunning;
      return series;
    },
  };
}
