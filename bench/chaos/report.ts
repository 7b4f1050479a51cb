/** The chaos run's table (bench/results/chaos.md). */
import type { Recovery } from './freshness.ts';
import type { HealthSeen } from './probe.ts';
import type { Row } from './scenario.ts';

const kinds = (m: Record<string, number>): string =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ') || '—';

const seconds = (r: Recovery): string => {
  if (r.stillStale || r.freshAfterSeconds === undefined) return 'not fresh at the end';
  return r.freshAfterSeconds === 0 ? '0 (never stale)' : r.freshAfterSeconds.toFixed(1);
};

const worst = (r: Recovery): string =>
  Number.isFinite(r.maxStalenessSeconds) ? r.maxStalenessSeconds.toFixed(1) : 'no answer';

const triple = (t: { store: number; readModel: number; index: number }): string =>
  `${t.store} / ${t.readModel} / ${t.index}`;

const clip = (s: string, n = 90) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

const health = (h: HealthSeen): string => {
  const notOk = Object.entries(h.notOk).map(
    ([service, v]) => `${service} ${v.status}${v.reason ? ` (${clip(v.reason)})` : ''}`,
  );
  const slowest = `slowest ${Math.round(h.slowestMs)} ms${h.timedOut ? `, ${h.timedOut} unanswered in 2 s` : ''}`;
  return [slowest, ...notOk].join('; ');
};

export function table(rows: readonly Row[]): string {
  const head = [
    '| fault | bookings | 201 | other final answers | gave up | attempts that were not final (retried) | lost (store / read model / index) | duplicated (store / read model / index) | read model fresh again after (s) | worst read-model staleness (s) | index caught up after (s) | answers labelled stale | /healthz: slowest answer; what said not ok |',
    '|---|---:|---:|---|---:|---|---|---|---:|---:|---:|---|---|',
  ];
  const body = rows.map((r) => {
    const retried = Object.fromEntries(Object.entries(r.attemptsByKind).filter(([k]) => k !== '201'));
    return `| ${r.fault.name} | ${r.bookings} | ${r.created} | ${kinds(r.refused)} | ${r.gaveUp} | ${kinds(retried)} | ${triple(r.lost)} | ${triple(r.duplicated)} | ${seconds(r.read)} | ${worst(r.read)} | ${seconds(r.index)} | ${kinds(r.labelledStale)} | ${health(r.health)} |`;
  });
  return [...head, ...body].join('\n');
}

/** Rows that break the promise: something lost or counted twice, or a read side that never recovered. */
export function failures(rows: readonly Row[]): string[] {
  return rows.flatMap((r) => {
    const out: string[] = [];
    const sum = (t: { store: number; readModel: number; index: number }) => t.store + t.readModel + t.index;
    if (sum(r.lost) > 0) out.push(`${r.fault.name}: lost ${triple(r.lost)}`);
    if (sum(r.duplicated) > 0) out.push(`${r.fault.name}: duplicated ${triple(r.duplicated)}`);
    if (r.read.stillStale) out.push(`${r.fault.name}: read model not fresh at the end`);
    if (r.index.stillStale) out.push(`${r.fault.name}: index not caught up at the end`);
    return out;
  });
}
