/**
 * One fault under load: open fresh schedules, start the booking load and the freshness probe,
 * inject the fault, keep going until the read side has been fresh for a while, stop the load, wait
 * for the read sides to settle, and compare every answer with the event store.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { addDays, hospitalDateAt } from '../../domain/session-time.ts';
import type { Fault, FaultContext } from './faults.ts';
import { recoveryOf, stalenessOf, type Recovery, type Sample } from './freshness.ts';
import { startLoad, type Booking } from './load.ts';
import {
  indexCounts,
  readCounts,
  startProbe,
  type HealthSeen,
  type ProbedSchedule,
  type ProbeTargets,
} from './probe.ts';

export interface CatalogDoctor {
  doctorId: string;
  institutionId: string;
  departmentId: string;
}

export interface ScenarioOptions {
  commandUrl: string;
  queryUrl: string;
  searchUrl: string;
  appointmentsAlias: string;
  /** Public base URL of each service (their /healthz is sampled). */
  serviceUrls: Record<string, string>;
  pool: pg.Pool;
  doctors: readonly CatalogDoctor[];
  /** 1, 2, …: the scenario's session date is that many days after the hospital's today. */
  dayOffset: number;
  ratePerSecond: number;
  hospitalToken: string;
  tokenFor: (patientId: string) => Promise<string>;
  log: (line: string) => void;
  /** Lines for the raw log only. */
  trace: (line: string) => void;
}

export interface Row {
  fault: Fault;
  bookings: number;
  created: number;
  /** Final answers other than 201 by kind, and bookings the client gave up on. */
  refused: Record<string, number>;
  gaveUp: number;
  attemptsByKind: Record<string, number>;
  lost: { store: number; readModel: number; index: number };
  duplicated: { store: number; readModel: number; index: number };
  /** Committed bookings whose client never got the 201 (it gave up); a retry with its key gets it. */
  committedUnanswered: number;
  read: Recovery;
  index: Recovery;
  labelledStale: Record<string, number>;
  health: HealthSeen;
  settleSeconds: number;
}

const CAPACITY = 1000;

async function openSchedules(o: ScenarioOptions): Promise<ProbedSchedule[]> {
  const date = addDays(hospitalDateAt(new Date()), o.dayOffset);
  return Promise.all(
    o.doctors.map(async (d) => {
      const res = await fetch(`${o.commandUrl}/v1/schedules`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${o.hospitalToken}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
        body: JSON.stringify({ ...d, date, period: 'morning', capacity: CAPACITY, fee: 5000 }),
      });
      const body = (await res.json()) as { scheduleId?: string };
      if (res.status !== 201 || !body.scheduleId) {
        throw new Error(`open schedule: ${res.status} ${JSON.stringify(body)}`);
      }
      return { scheduleId: body.scheduleId, doctorId: d.doctorId, date };
    }),
  );
}

/** Waits until both read sides show exactly what the store holds (or gives up after `ms`). */
async function settle(t: ProbeTargets, stored: Map<string, number>, ms: number): Promise<number> {
  const started = Date.now();
  const equal = (m: Map<string, number> | undefined) =>
    m !== undefined && [...stored].every(([id, n]) => (m.get(id) ?? 0) === n);
  while (Date.now() - started < ms) {
    const [reads, index] = await Promise.all([
      readCounts(t).catch(() => undefined),
      indexCounts(t).catch(() => undefined),
    ]);
    if (equal(reads) && equal(index)) break;
    await sleep(250);
  }
  return (Date.now() - started) / 1000;
}

async function storedBookings(
  t: ProbeTargets,
): Promise<{ appointmentId: string; stream: string; ref: string }[]> {
  const { rows } = await t.pool.query<{ appointmentId: string; stream: string; ref: string }>(
    `SELECT data->>'appointmentId' AS "appointmentId", stream_id AS stream,
            coalesce(data->>'patientRef', data->>'patientId') AS ref
       FROM events WHERE stream_id = ANY($1) AND event_type = 'AppointmentBooked'`,
    [t.schedules.map((s) => `schedule-${s.scheduleId}`)],
  );
  return rows;
}

const countBy = <T>(xs: readonly T[], key: (x: T) => string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
};

async function verify(t: ProbeTargets, bookings: readonly Booking[]) {
  const stored = await storedBookings(t);
  const storedIds = new Set(stored.map((s) => s.appointmentId));
  const perStream = countBy(stored, (s) => s.stream);
  const byId = new Map(t.schedules.map((s) => [s.scheduleId, perStream[`schedule-${s.scheduleId}`] ?? 0]));
  const settleSeconds = await settle(t, byId, 90_000);
  const [reads, index] = await Promise.all([readCounts(t), indexCounts(t)]);
  const diff = (m: Map<string, number> | undefined, sign: 1 | -1) =>
    [...byId].reduce((sum, [id, n]) => sum + Math.max(0, sign * ((m?.get(id) ?? 0) - n)), 0);
  const created = bookings.filter((b) => b.status === 201);
  const answered = new Set(created.map((b) => b.appointmentId));
  return {
    settleSeconds,
    lost: {
      store: created.filter((b) => !b.appointmentId || !storedIds.has(b.appointmentId)).length,
      readModel: diff(reads, -1),
      index: diff(index, -1),
    },
    duplicated: {
      store: Object.values(countBy(stored, (s) => `${s.stream} ${s.ref}`)).filter((n) => n > 1).length,
      readModel: diff(reads, 1),
      index: diff(index, 1),
    },
    committedUnanswered: stored.filter((s) => !answered.has(s.appointmentId)).length,
  };
}

/** One line per second of the probe's series: counts and staleness, relative to the fault's end. */
function timeline(series: { store: Sample[]; reads: Sample[]; index: Sample[] }, liftedAt: number): string[] {
  const lines: string[] = [];
  let next = -Infinity;
  const fmt = (s: Sample | undefined, ms: number) =>
    s?.count === undefined
      ? 'no answer'
      : `${s.count} (${Number.isFinite(ms) ? (ms / 1000).toFixed(1) : '∞'} s)`;
  series.store.forEach((store, i) => {
    if (store.at < next) return;
    next = store.at + 1000;
    const read = series.reads[i];
    const index = series.index[i];
    lines.push(
      `  t${((store.at - liftedAt) / 1000).toFixed(1).padStart(6)} s  store ${store.count ?? 'no answer'}  ` +
        `read model ${fmt(read, read ? stalenessOf(series.store, read) : Infinity)}  ` +
        `index ${fmt(index, index ? stalenessOf(series.store, index) : Infinity)}`,
    );
  });
  return lines;
}

/** Keeps the load on after the fault until the read side has been fresh for `freshForMs`. */
async function observe(series: ReturnType<typeof startProbe>['series'], liftedAt: number): Promise<void> {
  const minMs = 15_000;
  const freshForMs = 10_000;
  const maxMs = 90_000;
  for (;;) {
    await sleep(500);
    const since = Date.now() - liftedAt;
    const r = recoveryOf(series.store, series.reads, liftedAt);
    const freshSince = r.freshAfterSeconds === undefined ? undefined : liftedAt + r.freshAfterSeconds * 1000;
    if (since >= minMs && freshSince !== undefined && Date.now() - freshSince >= freshForMs) return;
    if (since >= maxMs) return;
  }
}

export async function runScenario(fault: Fault, ctx: FaultContext, o: ScenarioOptions): Promise<Row> {
  const schedules = await openSchedules(o);
  const targets: ProbeTargets = { ...o, schedules, healthUrls: o.serviceUrls };
  const probe = startProbe(targets);
  const load = startLoad({
    commandUrl: o.commandUrl,
    scheduleIds: schedules.map((s) => s.scheduleId),
    ratePerSecond: o.ratePerSecond,
    tokenFor: o.tokenFor,
  });
  await sleep(5_000);
  o.log(`fault: ${fault.name}`);
  const liftedAt = await fault.run(ctx);
  o.log(`fault ended; observing`);
  await observe(probe.series, liftedAt);
  const { bookings, attemptsByKind } = await load.stop();
  o.log(`load stopped: ${bookings.length} bookings`);
  const checked = await verify(targets, bookings);
  const series = await probe.stop();
  o.trace(`timeline of "${fault.name}" (t = seconds after the fault ended; staleness in brackets):`);
  for (const line of timeline(series, liftedAt)) o.trace(line);
  const finals = bookings.filter((b) => b.status !== undefined && b.status !== 201);
  return {
    fault,
    bookings: bookings.length,
    created: bookings.filter((b) => b.status === 201).length,
    refused: countBy(finals, (b) => String(b.status)),
    gaveUp: bookings.filter((b) => b.status === undefined).length,
    attemptsByKind,
    ...checked,
    read: recoveryOf(series.store, series.reads, liftedAt),
    // The index shows a write after its refresh interval (1 s) on top of the batch: in quiet
    // operation it is 1–2.3 s behind, so 3 s separates a stall from its normal delay.
    index: recoveryOf(series.store, series.index, liftedAt, 3_000),
    labelledStale: series.labelledStale,
    health: series.health,
  };
}
