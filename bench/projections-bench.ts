/**
 * Projections benchmark, on the real engines.
 *
 *   npm run bench:projections                 # 3 rounds, 20,000 events, 30 s of freshness load
 *   npm run bench:projections -- --events 50000 --rounds 5 --rate 200 --seconds 60
 *
 * 1. Throughput (events/s), each round on fresh topics, groups, key roots and indices, over the
 *    same seeded events: the relay (event store → Kafka), a bare kafkajs consumer that does
 *    nothing (the floor), the Redis projector and the search projector. Consumers are timed from
 *    their first batch to their last (group-join time excluded for all alike) and reported as a
 *    ratio to the floor. Medians over the rounds.
 * 2. Freshness: commands (decide + append, as the command API does) at a fixed rate, open loop;
 *    time from "append returned" (command accepted) to "visible in the Redis read model"
 *    (the appointment hash exists), with relay and Redis projector running. P50/P99.
 *
 * Writes bench/results/projections.md (`--out <path>` elsewhere); `--json <path>` also writes the
 * figures as JSON (what `npm run gate` reads); `--rounds 0` measures freshness only; `--note <text>`
 * says what else ran on the machine (written under "Notes"); `--throughput-only` prints the
 * throughput rounds and writes nothing (quick iterations).
 */
import { stampSchemaVersion } from '../domain/event-versions.ts';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import {
  decide,
  fold,
  scheduleStreamName,
  type ScheduleEvent,
  type ScheduleState,
} from '../domain/schedule.ts';
import { loadConfig } from '../platform/config.ts';
import type { Checkpoint } from '../platform/event-store/event-store.ts';
import { encodeCheckpoint, PgEventStore } from '../platform/event-store/pg-event-store.ts';
import { createKafka, createTopicsWithLeaders } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { createPool, type Pool } from '../platform/pg.ts';
import { createRedis } from '../platform/redis.ts';
import { searchFromConfig } from '../platform/search/index.ts';
import { parseProjectionsConfig, type Component, type ProjectionsConfig } from '../projections/config.ts';
import { keyspace, rootPrefix } from '../read-models/bookings.ts';
import type { BatchHandler } from '../projections/runtime/projector-runtime.ts';
import { startProjections, type StartProjectionsDeps } from '../projections/start.ts';
import { openBenchNamespace } from './bench-namespace.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '30' },
    out: { type: 'string' },
    json: { type: 'string' },
    /** What else ran on the machine meanwhile (written under "Notes" in the results file). */
    note: { type: 'string' },
    /** Throughput rounds only, printed, no results file written (quick iterations). */
    'throughput-only': { type: 'boolean', default: false },
  },
});
const EVENTS = Number(args.events);
const ROUNDS = Number(args.rounds);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);

// Outside a test run (no TEST_RUN_TAG: `npm run bench:projections` by hand, where no platform
// `booking` database need exist) the bench opens a namespace of its own: a migrated database and the
// run's settings, removed with everything named after its tag when the bench ends.
const namespace = process.env.TEST_RUN_TAG
  ? undefined
  : await openBenchNamespace({
      institutions: 1,
      cities: 1,
      departmentsPerInstitution: 1,
      doctors: 1,
      content: 1,
    });
/** Every name the bench makes starts with the run's tag, so removing the run removes what a crash left. */
const run = process.env.TEST_RUN_TAG ?? '';
const config = loadConfig();
const logger = createLogger('bench', 'silent');
const pool = createPool({ ...config, PG_POOL_MAX: 20 }, { applicationName: 'bench-projections' });
const store = new PgEventStore(pool);
const kafka = createKafka(config, undefined, 'bench-projections');
const redis = createRedis(config, 'bench-projections');
const engine = searchFromConfig(config);
const tag = `${run}${randomUUID().slice(0, 8)}`;
const cleanup: (() => Promise<unknown>)[] = [];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const log = (line: string) => process.stdout.write(`${line}\n`);

async function latestCheckpoint(db: Pool): Promise<Checkpoint | undefined> {
  const { rows } = await db.query<{ xid: string; global_position: string }>(
    'SELECT transaction_id::text AS xid, global_position FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1',
  );
  return rows[0] ? encodeCheckpoint(rows[0].xid, rows[0].global_position) : undefined;
}

async function createTopic(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsWithLeaders(admin, [{ topic, numPartitions: 6 }]);
  await admin.disconnect();
  cleanup.push(async () => {
    const a = kafka.admin();
    await a.connect();
    await a.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await a.disconnect();
  });
}

/** Projector settings read from the environment when set (PROJECTOR_BATCH_SIZE=1000 npm run …). */
const TUNING = [
  'PROJECTOR_BATCH_SIZE',
  'PROJECTOR_PARTITION_CONCURRENCY',
  'PROJECTOR_FETCH_BYTES_PER_PARTITION',
] as const;

/**
 * The projections process's parts in this process, wired by `startProjections` exactly as
 * `npm run projections` runs them, over the benchmark's clients and names.
 */
async function projections(
  components: Component[],
  names: Partial<ProjectionsConfig> & { EVENTS_TOPIC: string },
  extra: Partial<StartProjectionsDeps> = {},
) {
  // The projectors' tuning may come from the environment (to compare settings); nothing else does.
  const tuning = Object.fromEntries(TUNING.map((k) => [k, process.env[k]]));
  const parsed = parseProjectionsConfig(tuning);
  if (!parsed.ok) throw new Error(parsed.errors.join());
  const dlq = `${names.EVENTS_TOPIC}.dlq`;
  const handle = await startProjections(
    {
      platform: config,
      projections: { ...parsed.config, EVENTS_DLQ_TOPIC: dlq, ...names, PROJECTIONS_COMPONENTS: components },
    },
    { logger, pool, kafka, redis, engine, port: 0, host: '127.0.0.1', ...extra },
  );
  cleanup.push(async () => {
    const a = kafka.admin();
    await a.connect();
    await a.deleteTopics({ topics: [dlq] }).catch(() => undefined);
    await a.disconnect();
  });
  await handle.ready;
  return handle;
}

async function topicSize(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const n = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  await admin.disconnect();
  return n;
}

/** Open schedule + bookings, appended `chunk` events per transaction. */
async function seed(events: number): Promise<{ first: Checkpoint | undefined; last: Checkpoint }> {
  const perSchedule = 100;
  const first = await latestCheckpoint(pool);
  let last: Checkpoint | undefined;
  const schedules = Math.ceil(events / perSchedule);
  const work = Array.from({ length: schedules }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i)); // stagger
    const open = {
      type: 'OpenSchedule' as const,
      scheduleId: randomUUID(),
      doctorId: `bench-doc-${i % 40}`,
      institutionId: `bench-inst-${i % 10}`,
      departmentId: `bench-dept-${i % 25}`,
      date: '2030-01-15',
      period: 'morning' as const,
      capacity: 1000,
      fee: 5000,
      actor: { id: 'bench', role: 'hospital' as const },
      now: new Date('2030-01-10T09:30:00Z'),
      bookingHorizonDays: 90,
    };
    const list: ScheduleEvent[] = [];
    const d = decide(open, fold([]));
    if (!d.ok) throw new Error(d.error.code);
    list.push(...d.events);
    let state: ScheduleState = fold(list);
    for (let b = 1; b < perSchedule; b++) {
      const e = decide(
        {
          type: 'BookAppointment',
          scheduleId: open.scheduleId,
          appointmentId: randomUUID(),
          // Events as the command API writes them: a reference and a sealed identity (a stub here).
          patientRef: `bench-patient-${randomUUID().slice(0, 12)}`,
          patient: 'v1.c3R1Yg.c3R1Yg.c3R1Yg',
          now: open.now,
        },
        state,
      );
      if (!e.ok) throw new Error(e.error.code);
      list.push(...e.events);
      state = fold(e.events, state);
    }
    const stream = scheduleStreamName(open.scheduleId);
    for (let k = 0; k < list.length; k += 20) {
      const r = await store.appendToStream(
        stream,
        list
          .slice(k, k + 20)
          .map((x) => ({ type: x.type, data: x.data, metadata: stampSchemaVersion(x.type, {}) })),
        k === 0 ? 'no_stream' : BigInt(k - 1),
      );
      if (!last || store.compareCheckpoints(r.checkpoint, last) > 0) last = r.checkpoint;
    }
  });
  // Bounded concurrency: 8 schedules at a time.
  for (let i = 0; i < work.length; i += 8) await Promise.all(work.slice(i, i + 8));
  return { first, last: last! };
}

/** Times a consumer from its first batch to the moment it has seen `total` messages. */
function timed(total: number) {
  let first = 0;
  let seen = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let end = 0;
  return {
    finished,
    wrap(handler: BatchHandler): BatchHandler {
      return async (messages, ctx) => {
        if (!first) first = performance.now();
        const out = await handler(messages, ctx);
        seen += messages.length;
        if (seen >= total && !end) {
          end = performance.now();
          done();
        }
        return out;
      };
    },
    rate: () => (total / (end - first)) * 1000,
  };
}

async function floor(topic: string, total: number): Promise<number> {
  const consumer = kafka.consumer({ groupId: `${run}bench-floor-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let first = 0;
  let seen = 0;
  let end = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.run({
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      if (!first) first = performance.now();
      seen += batch.messages.length;
      if (seen >= total && !end) {
        end = performance.now();
        done();
      }
    },
  });
  await finished;
  await consumer.disconnect();
  return (total / (end - first)) * 1000;
}

async function projector(
  kind: 'redis' | 'search',
  topic: string,
  total: number,
  round: number,
): Promise<number> {
  const names = {
    EVENTS_TOPIC: topic,
    READ_MODEL_PREFIX: `${tag}-bench-rm-${round}`,
    APPOINTMENTS_ALIAS: `${tag}-bench-appointments-${round}`,
    PROJECTOR_GROUP_PREFIX: `${tag}-bench-${kind}-${randomUUID()}`,
  };
  if (kind === 'search') {
    cleanup.push(async () => {
      for (const i of await engine.aliasTargets(names.APPOINTMENTS_ALIAS)) await engine.deleteIndex(i);
    });
  } else {
    cleanup.push(() => unlinkPrefix(`${rootPrefix(names.READ_MODEL_PREFIX)}*`));
  }
  const t = timed(total);
  const p = await projections([kind], names, { hooks: { wrapHandler: (_name, handler) => t.wrap(handler) } });
  await t.finished;
  await p.stop();
  return t.rate();
}

async function unlinkPrefix(pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

async function relayRound(
  k: Kafka,
  topic: string,
  from: Checkpoint | undefined,
  last: Checkpoint,
): Promise<{ rate: number; published: number }> {
  const name = `${run}bench-relay-${randomUUID()}`;
  cleanup.push(() => pool.query('DELETE FROM relay_checkpoints WHERE name = $1', [name]));
  const started = await projections(
    ['relay'],
    { EVENTS_TOPIC: topic, RELAY_NAME: name, RELAY_MAX_IDLE_MS: 10 },
    { kafka: k, relayStartFrom: from ?? 'beginning' },
  );
  const relay = started.relay;
  if (!relay) throw new Error('the relay did not start');
  const t0 = performance.now();
  for (;;) {
    const cp = relay.checkpoint();
    if (cp && store.compareCheckpoints(cp, last) >= 0) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const t1 = performance.now();
  const published = relay.published();
  await started.stop();
  return { rate: (published / (t1 - t0)) * 1000, published };
}

interface Round {
  relay: number;
  floor: number;
  redis: number;
  search: number;
  events: number;
}

async function throughput(): Promise<{ rounds: Round[]; seeded: number; seedSeconds: number }> {
  if (ROUNDS === 0) return { rounds: [], seeded: 0, seedSeconds: 0 };
  log(`seeding ${EVENTS} events…`);
  const t = performance.now();
  const { first, last } = await seed(EVENTS);
  const seedSeconds = (performance.now() - t) / 1000;
  log(`seeded in ${seedSeconds.toFixed(1)} s`);
  const rounds: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const topic = `${tag}.bench.events.${r}`;
    await createTopic(topic);
    const relay = await relayRound(kafka, topic, first, last);
    const total = await topicSize(topic);
    const floorRate = await floor(topic, total);
    const redisRate = await projector('redis', topic, total, r);
    const searchRate = await projector('search', topic, total, r);
    rounds.push({ relay: relay.rate, floor: floorRate, redis: redisRate, search: searchRate, events: total });
    log(
      `round ${r + 1}: ${total} events | relay ${relay.rate.toFixed(0)}/s | floor ${floorRate.toFixed(0)}/s | ` +
        `redis ${redisRate.toFixed(0)}/s | search ${searchRate.toFixed(0)}/s`,
    );
  }
  return { rounds, seeded: EVENTS, seedSeconds };
}

async function freshness(): Promise<{
  latencies: number[];
  offered: number;
  achieved: number;
  relayDelays: number[];
  consumeDelays: number[];
  lost: number;
}> {
  const topic = `${tag}.bench.fresh`;
  await createTopic(topic);
  const root = `${tag}-bench-fresh`;
  cleanup.push(() => unlinkPrefix(`${rootPrefix(root)}*`));
  const relayName = `${tag}-bench-fresh-relay`;
  cleanup.push(() => pool.query('DELETE FROM relay_checkpoints WHERE name = $1', [relayName]));
  const keys = keyspace(root, 1);
  // Where the time goes: Kafka timestamp (the relay's send) and the projector's receipt, per booking.
  const stages = new Map<string, { sent: number; received: number }>();
  const observe =
    (inner: BatchHandler): BatchHandler =>
    async (messages, ctx) => {
      const received = Date.now();
      for (const m of messages) {
        const envelope = JSON.parse(m.value?.toString() ?? '{}') as { data?: { appointmentId?: string } };
        const id = envelope.data?.appointmentId;
        if (id) stages.set(keys.appointment(id), { sent: Number(m.timestamp), received });
      }
      return inner(messages, ctx);
    };
  const live = await projections(
    ['relay', 'redis'],
    {
      EVENTS_TOPIC: topic,
      READ_MODEL_PREFIX: root,
      RELAY_NAME: relayName,
      PROJECTOR_GROUP_PREFIX: `${tag}-bench-fresh`,
    },
    {
      relayStartFrom: (await latestCheckpoint(pool)) ?? 'beginning',
      hooks: { wrapHandler: (_name, handler) => observe(handler) },
    },
  );
  await Promise.all(live.projectors.map((p) => p.ready));
  await new Promise((r) => setTimeout(r, 4000)); // let the group settle

  // 50 open schedules, state kept in memory (the command API would fold the stream).
  const schedules: { id: string; state: ScheduleState; rev: number; chain: Promise<void> }[] = [];
  for (let i = 0; i < 50; i++) {
    const id = randomUUID();
    const d = decide(
      {
        type: 'OpenSchedule',
        scheduleId: id,
        doctorId: `fresh-doc-${i}`,
        institutionId: 'fresh-inst',
        departmentId: `fresh-dept-${i % 5}`,
        date: '2030-01-15',
        period: 'afternoon',
        capacity: 1000,
        fee: 0,
        actor: { id: 'bench', role: 'hospital' },
        now: new Date('2030-01-10T09:30:00Z'),
        bookingHorizonDays: 90,
      },
      fold([]),
    );
    if (!d.ok) throw new Error(d.error.code);
    await store.appendToStream(
      scheduleStreamName(id),
      d.events.map((e) => ({ type: e.type, data: e.data, metadata: stampSchemaVersion(e.type, {}) })),
      'no_stream',
    );
    schedules.push({ id, state: fold(d.events), rev: 0, chain: Promise.resolve() });
  }
  const pending = new Map<string, number>(); // appointment key → accepted at
  const acceptedWall = new Map<string, number>();
  const relayDelays: number[] = [];
  const consumeDelays: number[] = [];
  const latencies: number[] = [];
  let offered = 0;
  let stopPolling = false;
  const poller = (async () => {
    let deadline = Infinity;
    while (pending.size > 0 || !stopPolling) {
      if (stopPolling && deadline === Infinity) deadline = performance.now() + 10_000;
      if (performance.now() > deadline) break;
      const batch = [...pending.keys()];
      if (batch.length) {
        const replies = await redis.pipeline(batch.map((k) => ['exists', k])).exec();
        const now = performance.now();
        batch.forEach((k, i) => {
          if (replies?.[i]?.[1] === 1) {
            latencies.push(now - pending.get(k)!);
            const st = stages.get(k);
            const wall = acceptedWall.get(k);
            if (st && wall !== undefined) {
              relayDelays.push(st.sent - wall);
              consumeDelays.push(st.received - st.sent);
            }
            pending.delete(k);
          }
        });
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();

  const started = performance.now();
  const interval = 1000 / RATE;
  for (let i = 0; i < RATE * SECONDS; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const s = schedules[i % schedules.length]!;
    offered++;
    s.chain = s.chain.then(async () => {
      const appointmentId = randomUUID();
      const d = decide(
        {
          type: 'BookAppointment',
          scheduleId: s.id,
          appointmentId,
          patientRef: `fresh-p-${randomUUID().slice(0, 12)}`,
          patient: 'v1.c3R1Yg.c3R1Yg.c3R1Yg',
          now: new Date('2030-01-10T09:30:00Z'),
        },
        s.state,
      );
      if (!d.ok) throw new Error(d.error.code);
      await store.appendToStream(
        scheduleStreamName(s.id),
        d.events.map((e) => ({ type: e.type, data: e.data, metadata: stampSchemaVersion(e.type, {}) })),
        BigInt(s.rev),
      );
      pending.set(keys.appointment(appointmentId), performance.now());
      acceptedWall.set(keys.appointment(appointmentId), Date.now());
      s.rev += d.events.length;
      s.state = fold(d.events, s.state);
    });
  }
  await Promise.all(schedules.map((s) => s.chain));
  const achieved = (offered / (performance.now() - started)) * 1000;
  stopPolling = true;
  await poller;
  const lost = pending.size;
  await live.stop();
  return { latencies, offered, achieved, lost, relayDelays, consumeDelays };
}

const startedAt = new Date();
const load = loadavg()[0]!.toFixed(2);
try {
  const tp = await throughput();
  const m = (k: keyof Round) => median(tp.rounds.map((r) => r[k]));
  const ratio = (k: 'relay' | 'redis' | 'search') => median(tp.rounds.map((r) => r[k] / r.floor));
  if (args['throughput-only']) {
    log(
      `median ratios to the floor: relay ${ratio('relay').toFixed(2)} | redis ${ratio('redis').toFixed(2)} | search ${ratio('search').toFixed(2)}`,
    );
  } else await report(tp, m, ratio);
} finally {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  redis.disconnect();
  await engine.close();
  await pool.end();
  // After pool.end(): the namespace drops its database WITH (FORCE), which would cut the pool's connections.
  if (namespace) log(`namespace ${namespace.tag} removed: ${JSON.stringify(await namespace.cleanup())}`);
}
process.exit(0);

async function report(
  tp: Awaited<ReturnType<typeof throughput>>,
  m: (k: keyof Round) => number,
  ratio: (k: 'relay' | 'redis' | 'search') => number,
): Promise<void> {
  log(`freshness: ${RATE} commands/s for ${SECONDS} s…`);
  const fr = await freshness();
  const p50 = percentile(fr.latencies, 50);
  const p99 = percentile(fr.latencies, 99);
  const max = Math.max(...fr.latencies);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const throughputMd = tp.rounds.length
    ? `## Throughput (events/s, median of ${ROUNDS} rounds, ~${fmt(m('events'))} events per round)

Each round has its own topic (6 partitions), groups, key root and index, over the same seeded
events (${EVENTS} schedule events: open + 99 bookings per schedule, appended 20 per transaction).
Consumers are timed from their first batch to their last message (group join excluded for all),
\`partitionsConsumedConcurrently: 3\`. The floor is a bare kafkajs \`eachBatch\` that does nothing.

| stage | events/s (median) | ratio to the floor (median) | rounds |
| --- | ---: | ---: | --- |
| floor: bare kafkajs consumer | ${fmt(m('floor'))} | 1.00 | ${tp.rounds.map((r) => fmt(r.floor)).join(' / ')} |
| relay: event store → Kafka | ${fmt(m('relay'))} | ${ratio('relay').toFixed(2)} | ${tp.rounds.map((r) => fmt(r.relay)).join(' / ')} |
| Redis projector | ${fmt(m('redis'))} | ${ratio('redis').toFixed(2)} | ${tp.rounds.map((r) => fmt(r.redis)).join(' / ')} |
| search projector | ${fmt(m('search'))} | ${ratio('search').toFixed(2)} | ${tp.rounds.map((r) => fmt(r.search)).join(' / ')} |

Projectors: fetches of up to 4 MiB per partition (~3,700 events), applied in chunks of ≤ 5,000
messages (PROJECTOR_FETCH_BYTES_PER_PARTITION, PROJECTOR_BATCH_SIZE), so one fetched partition
batch is one chunk, with one offset commit. Redis projector: per chunk, one pipeline reading the
touched schedules, then one revision-guarded script per stream, sent as soon as the stream is
folded. Search projector: per chunk, one \`_bulk\` request versioned by stream revision.

Targets (issue 14): Redis projector ≥ 0.3× the floor — **${ratio('redis') >= 0.3 ? 'met' : 'NOT met'}**
(median ratio ${ratio('redis').toFixed(2)}); search projector ≥ 0.2× — **${ratio('search') >= 0.2 ? 'met' : 'NOT met'}**
(median ratio ${ratio('search').toFixed(2)}).

`
    : `## Throughput

Not measured (\`--rounds 0\`).

`;
  const md = `# Projections benchmark

Run: \`npm run bench:projections -- --events ${EVENTS} --rounds ${ROUNDS} --rate ${RATE} --seconds ${SECONDS}\`
on ${startedAt.toISOString()}, ${cpus().length} cores, load average ${load} at start and ${loadavg()[0]!.toFixed(2)} at the end,
against the local engines (Kafka 4 KRaft, PostgreSQL, Redis, OpenSearch 2.19), all on the same machine — and shared
with other work running at the same time, so absolute numbers are noisy; the ratios are the point.

${throughputMd}## Freshness (command accepted → visible in Redis)

${fmt(fr.offered)} BookAppointment commands offered at ${RATE}/s (open loop, achieved ${fr.achieved.toFixed(0)}/s),
round-robin over 50 schedules; "accepted" = the event store append returned (what the command API
does before answering 201), "visible" = the appointment's hash exists in the Redis read model
(polled every ~2 ms). Relay (batch 500, idle back-off ≤ 100 ms) and Redis projector running.

| | P50 | P99 | max |
| --- | ---: | ---: | ---: |
| accepted → visible in Redis | ${p50.toFixed(0)} ms | ${p99.toFixed(0)} ms | ${max.toFixed(0)} ms |
| accepted → relay's send (Kafka timestamp) | ${percentile(fr.relayDelays, 50).toFixed(0)} ms | ${percentile(fr.relayDelays, 99).toFixed(0)} ms | ${Math.max(...fr.relayDelays).toFixed(0)} ms |
| Kafka timestamp → projector batch start | ${percentile(fr.consumeDelays, 50).toFixed(0)} ms | ${percentile(fr.consumeDelays, 99).toFixed(0)} ms | ${Math.max(...fr.consumeDelays).toFixed(0)} ms |

Not visible after 10 s: ${fr.lost}.

Target: P99 ≤ 1 s — **${p99 <= 1000 ? 'met' : 'NOT met'}**.
${args.note ? `\n## Notes\n\n${args.note}\n` : ''}`;
  const out = args.out
    ? pathToFileURL(resolve(args.out))
    : new URL('./results/projections.md', import.meta.url);
  await mkdir(new URL('./', out), { recursive: true });
  await writeFile(out, md);
  if (args.json) {
    const throughputFigures = tp.rounds.length
      ? {
          events: m('events'),
          floor: m('floor'),
          relay: m('relay'),
          redis: m('redis'),
          search: m('search'),
          ratios: { relay: ratio('relay'), redis: ratio('redis'), search: ratio('search') },
          rounds: tp.rounds,
        }
      : null;
    const figures = {
      bench: 'projections',
      generatedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, node: process.version },
      loadAtStart: Number(load),
      settings: { events: EVENTS, rounds: ROUNDS, rate: RATE, seconds: SECONDS },
      throughput: throughputFigures,
      freshness: {
        offered: fr.offered,
        achieved: fr.achieved,
        lost: fr.lost,
        p50: p50,
        p99: p99,
        max: max,
        relayP99: percentile(fr.relayDelays, 99),
        consumeP99: percentile(fr.consumeDelays, 99),
      },
    };
    await mkdir(dirname(resolve(args.json)), { recursive: true });
    await writeFile(args.json, `${JSON.stringify(figures, null, 2)}\n`);
  }
  log(md);
}
