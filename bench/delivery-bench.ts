/**
 * Hospital delivery benchmark (docs/adr/0016): `npm run bench:delivery [-- --per 10 --receivers 50]`.
 *
 * 50 institutions, each with its own reference receiver (5 ms answers); every institution gets
 * `--per` bookings appended to the event store and published to a topic of the run's own. Four runs:
 *   worker, all healthy          the delivery worker (startDelivery: one sender loop per institution)
 *   worker, one slow             the same, one receiver answering in 30 s (its timeout: 2 s)
 *   naive, all healthy           a sequential deliverer: every delivery in publish order, one at a
 *   naive, one slow              time, waiting for each answer (or its 2 s timeout)
 * Every booking is published first; then delivery starts (the worker from its consumer group's
 * beginning, the naive one from the list). Measured at the receivers: deliveries/s of the healthy
 * receivers (start → last healthy delivery) and their delivery latency (start → applied) P50/P99.
 * Writes bench/results/delivery.md (section `delivery`). Runs in its own namespace (database, topic).
 */
import { parseArgs } from 'node:util';
import { loadConfig, parseConfig } from '../platform/config.ts';
import { parseDeliverySettings } from '../delivery/config.ts';
import { startDelivery } from '../delivery/start.ts';
import { postDelivery } from '../delivery/http-delivery.ts';
import { createKafka, defaultPartitioner } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { createPool } from '../platform/pg.ts';
import {
  ensureEventsTopic,
  EventFeed,
  givenInstitution,
  type Institution,
} from '../tests/support/delivery-fixtures.ts';
import { uniqueName } from '../tests/support/wait.ts';
import { openBenchNamespace } from './bench-namespace.ts';
import { writeSection } from './results-file.ts';

const { values } = parseArgs({
  options: { per: { type: 'string', default: '10' }, receivers: { type: 'string', default: '50' } },
});
const PER = Number(values.per);
const RECEIVERS = Number(values.receivers);
const SLOW_MS = 30_000;
const TIMEOUT_MS = 2_000;

interface RunResult {
  name: string;
  healthyDeliveries: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  slowApplied: number;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

async function run(name: string, withSlow: boolean, mode: 'worker' | 'naive'): Promise<RunResult> {
  const config = loadConfig();
  const pool = createPool(config, { applicationName: 'delivery-bench' });
  const topic = uniqueName('delivery_bench');
  await ensureEventsTopic(config, topic);
  const producer = createKafka(config).producer({ createPartitioner: defaultPartitioner });
  await producer.connect();
  const feed = new EventFeed(pool, config, producer, topic);
  const institutions: Institution[] = [];
  for (let i = 0; i < RECEIVERS; i++) {
    const slow = withSlow && i === 0;
    institutions.push(await givenInstitution(pool, { latencyMs: slow ? SLOW_MS : 5, timeoutMs: TIMEOUT_MS }));
  }
  const [first, ...rest] = institutions;
  const healthy = withSlow ? rest : institutions;
  const schedules = await Promise.all(institutions.map((i) => feed.openSchedule(i.id)));
  const order: {
    inst: Institution;
    eventId: string;
    scheduleId: string;
    patientId: string;
    appointmentId: string;
  }[] = [];
  // Interleaved, as bookings arrive: one booking per institution per round.
  for (let round = 0; round < PER; round++) {
    await Promise.all(
      institutions.map(async (inst, k) => {
        const [b] = await feed.book(schedules[k]!, 1);
        order.push({ inst, scheduleId: schedules[k]!, ...b! });
      }),
    );
  }
  let stopWorker = async () => {};
  if (mode === 'worker') {
    const parsed = parseDeliverySettings({
      DELIVERY_EVENTS_TOPIC: topic,
      DELIVERY_GROUP: `${topic}_group`,
      DELIVERY_POLL_MS: '50',
      DELIVERY_CONFIG_POLL_MS: '500',
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const worker = await startDelivery({
      config,
      settings: parsed.config,
      migrate: false,
      port: 0,
      adminPort: 0,
      logger: createLogger('delivery-bench', 'error'),
    });
    await worker.ready;
    stopWorker = () => worker.stop();
  }
  const started = Date.now();
  if (mode === 'naive') await naiveDeliver(order);
  const finished = await waitUntil(() => healthy.every((i) => i.mock.applied().length >= PER), 300_000);
  const elapsed = (Date.now() - started) / 1000;
  const latencies = healthy
    .flatMap((i) => i.mock.applied().map((d) => d.receivedAt - started))
    .sort((a, b) => a - b);
  const slowApplied = withSlow ? first!.mock.applied().length : 0;
  await stopWorker();
  await producer.disconnect();
  await feed.cleanup(institutions);
  await pool.end();
  if (!finished) throw new Error(`${name}: the healthy receivers did not get every delivery within 300 s`);
  const healthyDeliveries = healthy.length * PER;
  return {
    name,
    healthyDeliveries,
    seconds: elapsed,
    perSecond: healthyDeliveries / elapsed,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    slowApplied,
  };
}

/** The baseline: one delivery at a time, in publish order, each waiting for its answer or timeout. */
async function naiveDeliver(
  order: {
    inst: Institution;
    eventId: string;
    scheduleId: string;
    patientId: string;
    appointmentId: string;
  }[],
) {
  const seqs = new Map<string, number>();
  for (const o of order) {
    const seq = (seqs.get(o.inst.id) ?? 0) + 1;
    seqs.set(o.inst.id, seq);
    await postDelivery({
      url: o.inst.mock.url,
      secret: o.inst.secret,
      body: {
        institutionId: o.inst.id,
        seq,
        idempotencyKey: `${o.inst.id}:${seq}`,
        eventId: o.eventId,
        type: 'AppointmentBooked',
        occurredAt: new Date().toISOString(),
        data: { scheduleId: o.scheduleId, appointmentId: o.appointmentId, patientId: o.patientId },
      },
      signal: AbortSignal.timeout(TIMEOUT_MS),
      fallbackTraceparent: undefined,
    }).catch(() => undefined);
  }
}

const ns = await openBenchNamespace({
  institutions: 1,
  cities: 1,
  departmentsPerInstitution: 1,
  doctors: 1,
  content: 1,
});
const results: RunResult[] = [];
try {
  if (!parseConfig(process.env).ok) throw new Error('bad environment');
  for (const [name, slow, mode] of [
    ['worker, all healthy', false, 'worker'],
    ['worker, one slow (30 s)', true, 'worker'],
    ['naive sequential, all healthy', false, 'naive'],
    ['naive sequential, one slow (30 s)', true, 'naive'],
  ] as const) {
    const r = await run(name, slow, mode);
    results.push(r);
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
} finally {
  await ns.cleanup();
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const rows = results.map(
  (r) =>
    `| ${r.name} | ${r.healthyDeliveries} | ${r.seconds.toFixed(1)} | ${fmt(r.perSecond)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.slowApplied} |`,
);
const [wh, ws, nh, nsl] = results;
const body = `## Hospital delivery: ${RECEIVERS} receivers, ${PER} bookings each (\`npm run bench:delivery\`)

Measured ${new Date().toISOString().slice(0, 16)}Z on the shared 2-core host (other sessions running; compare within the run).
Receivers answer in 5 ms; the slow one in ${SLOW_MS / 1000} s, so each of its attempts ends at its ${TIMEOUT_MS / 1000} s timeout.
Every booking is published before delivery starts; latency is start of delivery → applied by the receiver (the\nworker's includes reading the topic and queueing into the outbox), healthy receivers only.

| Run | Healthy deliveries | Seconds | Healthy deliveries/s | P50 ms | P99 ms | Slow receiver applied |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

The worker's healthy P99 with one slow receiver is ${fmt(ws!.p99)} ms against ${fmt(wh!.p99)} ms without it: each
institution has its own loop, guard and timeout, so the slow one holds up only itself. The naive
sequential deliverer's healthy P99 goes from ${fmt(nh!.p99)} ms to ${fmt(nsl!.p99)} ms with one slow receiver: every
delivery queued behind one of its ${PER} timeouts waits ${TIMEOUT_MS / 1000} s more.
`;
await writeSection(new URL('results/delivery.md', import.meta.url).pathname, 'delivery', body);
process.stdout.write(body);
// The slow receiver's 30 s answers still hold timers: do not wait for them.
process.exit(0);
