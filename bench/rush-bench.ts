/**
 * `npm run bench:rush` (issue 17; docs/adr/0015): the same spike of bookings — N patients at once
 * for 100 places — sent to a schedule in rush mode (Kafka, request processor) and to one on the
 * synchronous path, in one run, against the real engines. Reports accepted requests/s, the time
 * to each request's final outcome (P50/P99; rush: from the send to the processor's commit,
 * `decided_at`; synchronous: the response), the time from the last accepted request to the last
 * outcome, and bookings decided per second by the processor vs the single-INSERT floor (one
 * autocommit INSERT per booking through pg, measured in the same run, no HTTP in front).
 *
 * Everything runs in this one process (API, processor, load): on a shared 2-core machine the
 * figures are for comparison within the run. Writes bench/results/rush.md.
 *   npm run bench:rush -- --requests 10000 --concurrency 500
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createCommandApiClient } from '../clients/index.ts';
import { startCommandApi } from '../command-api/start.ts';
import { loadConfig } from '../platform/config.ts';
import { signToken } from '../platform/http/auth.ts';
import { createKafka } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { createPool } from '../platform/pg.ts';
import { startRequestProcessor } from '../requests/start.ts';
import { givenCatalogDoctor, nextSessionDate } from '../tests/support/catalog-mother.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '500' },
    capacity: { type: 'string', default: '100' },
    drain: { type: 'string', default: '3000' },
  },
});
const N = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const CAPACITY = Number(values.capacity);
const DRAIN = Number(values.drain);
let drainMs = NaN;

const suffix = randomUUID().slice(0, 8);
const base = loadConfig();
const config = {
  ...base,
  BOOKING_REQUESTS_TOPIC: `bench.booking.requests.${suffix}`,
  REQUEST_PROCESSOR_GROUP: `bench-requests-${suffix}`,
  PATIENT_COMMANDS_PER_MINUTE: 0,
};
const logger = createLogger('rush-bench', 'warn');
const pool = createPool(config, { applicationName: 'rush-bench' });

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const sortNum = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** Runs `work(i)` for i < n with at most `limit` in flight. */
async function pooled(n: number, limit: number, work: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

async function main() {
  const api = await startCommandApi({ config, logger, port: 0, adminPort: 0, host: '127.0.0.1' });
  const processor = await startRequestProcessor({ config, logger, migrate: false });
  await processor.ready;
  const catalog = await givenCatalogDoctor(pool);
  const hospital = await signToken(config.JWT_SECRET, {
    sub: 'bench-hospital',
    role: 'hospital',
    institutionId: catalog.institutionId,
  });
  // Setup through the typed client (clients/), what our users call the API with; the measured
  // bookings below stay a bare fetch, so no client layer is in the latencies.
  const staff = createCommandApiClient({ baseUrl: api.url, token: hospital });
  const params = () => ({ header: { 'Idempotency-Key': randomUUID() } });
  const open = async () => {
    const { data, error, response } = await staff.POST('/v1/schedules', {
      params: params(),
      body: { ...catalog, date: nextSessionDate(), period: 'afternoon', capacity: CAPACITY, fee: 0 },
    });
    if (!data) throw new Error(`open: ${response.status} ${JSON.stringify(error)}`);
    return data.scheduleId;
  };
  const rushOn = async (scheduleId: string) => {
    const { data, error, response } = await staff.POST('/v1/schedules/{scheduleId}/rush', {
      params: { ...params(), path: { scheduleId } },
      body: { enabled: true },
    });
    if (!data) throw new Error(`rush: ${response.status} ${JSON.stringify(error)}`);
  };
  const post = async (path: string, token: string, body: unknown) => {
    const res = await fetch(`${api.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const patients = Array.from({ length: N }, (_, i) => `rush-bench-${suffix}-${i}`);
  const tokens = await Promise.all(
    patients.map((sub) => signToken(config.JWT_SECRET, { sub, role: 'patient' })),
  );
  // The vault's keys first, for both runs alike: a first booking creates the patient's key.
  const book = (scheduleId: string, i: number) =>
    post('/v1/appointments', tokens[i]!, { scheduleId, patientId: patients[i] });

  // Synchronous path.
  const syncId = await open();
  const syncLatency: number[] = [];
  const syncStatus: Record<string, number> = {};
  const syncStart = Date.now();
  await pooled(N, CONCURRENCY, async (i) => {
    const t = performance.now();
    const r = await book(syncId, i);
    syncLatency.push(performance.now() - t);
    syncStatus[r.status] = (syncStatus[r.status] ?? 0) + 1;
  });
  const syncMs = Date.now() - syncStart;

  // Rush mode.
  const rushId = await open();
  await rushOn(rushId);
  const sentAt = new Map<string, number>();
  const acceptLatency: number[] = [];
  const rushStatus: Record<string, number> = {};
  const rushStart = Date.now();
  let lastAccepted = 0;
  await pooled(N, CONCURRENCY, async (i) => {
    const sent = Date.now();
    const r = await book(rushId, i);
    lastAccepted = Date.now();
    acceptLatency.push(lastAccepted - sent);
    rushStatus[r.status] = (rushStatus[r.status] ?? 0) + 1;
    // 202 queued, or 200: decided before the acceptance's last statement (the same request, final).
    const { requestId } = r.body;
    if (typeof requestId === 'string') sentAt.set(requestId, sent);
  });
  const acceptMs = lastAccepted - rushStart;
  // Every request final: wait for the processor (no polling of the API: the rows say it).
  for (;;) {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM booking_requests WHERE schedule_id = $1 AND status IN ('booked', 'rejected')`,
      [rushId],
    );
    if (Number(rows[0]?.n) >= sentAt.size) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { rows } = await pool.query<{ request_id: string; status: string; decided: string }>(
    `SELECT request_id, status, (extract(epoch FROM decided_at) * 1000)::float8 AS decided FROM booking_requests WHERE schedule_id = $1`,
    [rushId],
  );
  const decided = rows.map((r) => Number(r.decided));
  const toFinal = sortNum(rows.map((r) => Number(r.decided) - (sentAt.get(r.request_id) ?? NaN)));
  const booked = rows.filter((r) => r.status === 'booked').length;
  const firstDecided = Math.min(...decided);
  const lastDecided = Math.max(...decided);
  const decidedPerSec = rows.length / Math.max(0.001, (lastDecided - firstDecided) / 1000);

  // The processor's own rate: a queue filled while it is stopped, then drained (group join included).
  await processor.stop();
  const drainId = await open();
  await rushOn(drainId);
  const drainN = Math.min(N, DRAIN);
  await pooled(drainN, CONCURRENCY, async (i) => {
    await book(drainId, i);
  });
  const drainStart = Date.now();
  const drainer = await startRequestProcessor({ config, logger, migrate: false });
  for (;;) {
    const { rows: d } = await pool.query<{ n: string; last: number | null }>(
      `SELECT count(*) AS n, (extract(epoch FROM max(decided_at)) * 1000)::float8 AS last
         FROM booking_requests WHERE schedule_id = $1 AND status IN ('booked', 'rejected')`,
      [drainId],
    );
    if (Number(d[0]?.n) >= drainN) {
      drainMs = Number(d[0]?.last) - drainStart;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await drainer.stop();

  // The floor: one autocommit INSERT per booking, CONCURRENCY at once over the pool.
  await pool.query(`CREATE TABLE IF NOT EXISTS bench_floor (
      id uuid PRIMARY KEY, schedule_id uuid NOT NULL, patient_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now())`);
  const floorStart = performance.now();
  await pooled(N, Math.min(CONCURRENCY, 20), async (i) => {
    await pool.query('INSERT INTO bench_floor (id, schedule_id, patient_id) VALUES ($1, $2, $3)', [
      randomUUID(),
      rushId,
      patients[i],
    ]);
  });
  const floorPerSec = N / ((performance.now() - floorStart) / 1000);

  const syncSorted = sortNum(syncLatency);
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
  const report = `# Booking rush benchmark (npm run bench:rush)

Run ${new Date().toISOString()}: ${N} bookings from ${N} patients for ${CAPACITY} places, ${CONCURRENCY} in flight, API + processor + load in one process; load average (1/5/15 min) at the end: ${load}.

| path | accepted | answers | accepted req/s | time to final outcome P50 / P99 (ms) |
| --- | --- | --- | --- | --- |
| synchronous | ${JSON.stringify(syncStatus)} | 201 / 409 at once | ${(N / (syncMs / 1000)).toFixed(0)} | ${pct(syncSorted, 50).toFixed(0)} / ${pct(syncSorted, 99).toFixed(0)} |
| rush | ${JSON.stringify(rushStatus)} | 202, then booked / rejected | ${(N / (acceptMs / 1000)).toFixed(0)} | ${pct(toFinal, 50).toFixed(0)} / ${pct(toFinal, 99).toFixed(0)} |

- Rush: ${booked} booked; acceptance answer (202, or 200 when already decided) P50 / P99 ${pct(sortNum(acceptLatency), 50)} / ${pct(sortNum(acceptLatency), 99)} ms; last outcome ${(lastDecided - lastAccepted).toFixed(0)} ms after the last accepted request (target ≤ 5,000 ms).
- Decided per second by the processor during the spike (first to last decision; bounded by the arrival rate): ${decidedPerSec.toFixed(0)}.
- Decided per second draining a queue of ${Math.min(N, DRAIN)} filled while the processor was stopped (from its start, group join included, to the last decision): ${(Math.min(N, DRAIN) / (drainMs / 1000)).toFixed(0)}; the single-INSERT floor (one autocommit INSERT per booking, ${Math.min(CONCURRENCY, 20)} at once, no HTTP): ${floorPerSec.toFixed(0)}/s; ratio drain / floor ${(Math.min(N, DRAIN) / (drainMs / 1000) / floorPerSec).toFixed(2)}×.
- Time to final outcome, rush: from the client's send to the processor's commit (\`decided_at\`), same clock.
`;
  await writeFile(new URL('results/rush.md', import.meta.url), report);
  process.stdout.write(report);

  await api.stop(2_000);
  const admin = createKafka(config, undefined).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [config.BOOKING_REQUESTS_TOPIC] }).catch(() => undefined);
  await admin.deleteGroups([config.REQUEST_PROCESSOR_GROUP]).catch(() => undefined);
  await admin.disconnect();
  await pool.end();
}

await main();
