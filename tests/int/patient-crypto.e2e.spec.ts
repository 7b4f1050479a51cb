/**
 * Patient data protection end to end (docs/adr/0010): patients book and cancel through the
 * command API — one of them through the booking rush queue and its request processor — with the
 * relay, the Redis, search and analytics projectors and the query API running on the run's
 * topics, keyspace and indices. Then every record on every topic of the run (the events, their
 * dead letters, `booking.requests` …), every Redis key and value of the run (read model, catalog,
 * flow rules and budgets …), every document of the appointments and analytics indices and every
 * stored event and booking request are searched for the patients' ids: nothing. Then an admin
 * forgets the patient: the events stay, the identity is unrecoverable everywhere, the read models
 * drop it, the pseudonym no longer links (appointments and analytics alike), the anonymous
 * appointment can still be cancelled by the hospital — and not by the patient.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../platform/config.ts';
import { principalScope } from '../../platform/http/auth.ts';
import { createLogger } from '../../platform/logger.ts';
import { patientVault } from '../../platform/patient-vault.ts';
import type { AnalyticsDoc } from '../../projections/analytics/analytics-model.ts';
import type { ProjectorHandle } from '../../projections/runtime/projector-runtime.ts';
import type { AppointmentDoc } from '../../projections/search/appointments-model.ts';
import { startProjections, type ProjectionsHandle } from '../../projections/start.ts';
import { keyspace } from '../../read-models/bookings.ts';
import { startRequestProcessor, type RequestProcessorHandle } from '../../requests/start.ts';
import { givenCatalogDoctor } from '../support/catalog-mother.ts';
import {
  anOpenScheduleRequest,
  startCommandApi,
  TEST_SECRET,
  type Harness as CommandHarness,
} from '../support/command-api-harness.ts';
import { projectionsHarness, type Harness as ProjectionsHarness } from '../support/projections-harness.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { scanKeys } from '../support/redis-keys.ts';
import { runTag } from '../support/test-run.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

let commands: CommandHarness;
let projections: ProjectionsHarness;
let query: QueryInstance;
let redisProjector: ProjectorHandle;
let searchProjector: ProjectorHandle;
let analytics: ProjectionsHandle;
let requests: RequestProcessorHandle;
let requestsTopic: string;
// The analytics indices of this file's own (`<alias>-<month>` behind it), in the run's namespace.
const analyticsAlias = uniqueName('analytics');

const patientId = `patient-${randomUUID()}`;
const otherPatientId = `patient-${randomUUID()}`;

beforeAll(async () => {
  commands = await startCommandApi();
  projections = await projectionsHarness();
  await projections.startRelay();
  const config = parseConfig(process.env);
  if (!config.ok) throw new Error(config.errors.join('; '));
  requestsTopic = config.config.BOOKING_REQUESTS_TOPIC;
  // Each joins a consumer group of its own: started together, their joins overlap.
  const startAnalytics = async () => {
    const started = await startProjections(
      {
        platform: projections.config,
        projections: {
          ...projections.pc,
          PROJECTIONS_COMPONENTS: ['analytics'],
          ANALYTICS_ALIAS: analyticsAlias,
        },
      },
      {
        logger: projections.logger,
        pool: projections.pool,
        kafka: projections.kafka,
        engine: projections.engine,
        port: 0,
        host: '127.0.0.1',
      },
    );
    analytics = started;
    await started.ready;
    await started.projectors[0]?.ready;
  };
  const startRequests = async () => {
    requests = await startRequestProcessor({
      config: config.config,
      logger: createLogger('requests-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
      migrate: false,
    });
    await requests.ready;
  };
  [redisProjector, searchProjector] = await Promise.all([
    projections.startProjector('redis'),
    projections.startProjector('search'),
    startAnalytics(),
    startRequests(),
  ]);
  query = await startQueryInstance(projections.config, {
    catalogPrefix: `${projections.pc.READ_MODEL_PREFIX}-catalog:`,
    searchAlias: projections.pc.APPOINTMENTS_ALIAS,
    readModelRoot: projections.pc.READ_MODEL_PREFIX,
    jwtSecret: TEST_SECRET,
    // Long on purpose: an answer that must not wait comes back well before it.
    queryConfig: { QUERY_RYW_TIMEOUT_MS: 10_000 },
  });
}, 120_000);

afterAll(async () => {
  // Together: an idle consumer's stop waits out its fetch (up to 5 s each, one after another in
  // the harness's close).
  await Promise.all([requests?.stop(), analytics?.stop(), searchProjector?.stop(), query?.close()]);
  for (const index of (await projections?.engine.aliasTargets(analyticsAlias)) ?? [])
    await projections.engine.deleteIndex(index);
  await projections?.close();
  await commands?.stop();
});

// The harness's hospital user, of its catalog institution.
const hospital = () => commands.tokenFor({ ...commands.hospital, sub: 'hospital-crypto' });
const admin = () => commands.tokenFor({ sub: 'admin-1', role: 'admin' });
const asPatient = (sub: string) => commands.tokenFor({ sub, role: 'patient' });

/** A schedule of a doctor of its own (one open schedule per doctor session), in the catalog. */
async function openSchedule(): Promise<string> {
  const doctor = await givenCatalogDoctor(commands.pool, { institutionId: commands.catalog.institutionId });
  const res = await commands.http.post('/v1/schedules', {
    token: await hospital(),
    idempotencyKey: randomUUID(),
    body: anOpenScheduleRequest(doctor, { capacity: 5 }),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return (res.body as { scheduleId: string }).scheduleId;
}

async function bookAs(sub: string, scheduleId: string) {
  const res = await commands.http.post('/v1/appointments', {
    token: await asPatient(sub),
    idempotencyKey: randomUUID(),
    body: { scheduleId, patientId: sub },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return {
    appointmentId: (res.body as { appointmentId: string }).appointmentId,
    checkpoint: res.headers['booking-checkpoint'] as string,
  };
}

const readAppointment = (appointmentId: string, token: string, headers: Record<string, string> = {}) =>
  query.get(`/v1/appointments/${appointmentId}`, { authorization: `Bearer ${token}`, ...headers });

/**
 * Every record, up to the current end, of every topic of the run (its names start with the run's
 * tag: this file's events and dead letters, the run's `booking.requests`, whatever else the run
 * made), read by one consumer. Done per partition at its last offset, not by counting records.
 */
async function runRecords(kafka: Kafka): Promise<{ topics: string[]; records: KafkaMessage[] }> {
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(runTag()));
  const ends = new Map<string, number>(); // `topic:partition` → last offset
  for (const topic of topics) {
    // A topic an earlier file deleted may still be listed for a moment: skipped.
    for (const p of await admin.fetchTopicOffsets(topic).catch(() => [])) {
      if (Number(p.high) > Number(p.low)) ends.set(`${topic}:${p.partition}`, Number(p.high) - 1);
    }
  }
  await admin.disconnect();
  const records: KafkaMessage[] = [];
  if (ends.size === 0) return { topics, records };
  const consumer = kafka.consumer({ groupId: uniqueName('test-scan') });
  await consumer.connect();
  await consumer.subscribe({
    topics: [...new Set([...ends.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))],
    fromBeginning: true,
  });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      records.push(message);
      const key = `${topic}:${partition}`;
      if (Number(message.offset) >= (ends.get(key) ?? Infinity)) ends.delete(key);
    },
  });
  await waitFor(() => (ends.size === 0 ? true : undefined), {
    what: `every record of ${topics.join(', ')}`,
    timeoutMs: 30_000,
  });
  await consumer.disconnect();
  return { topics, records };
}

const recordText = (m: KafkaMessage): string =>
  [
    String(m.key ?? ''),
    String(m.value ?? ''),
    ...Object.entries(m.headers ?? {}).map(([k, v]) => `${k}=${String(v)}`),
  ].join('\n');

/**
 * Every Redis key of the run with its value, as text: the run's namespace is `<tag>…` and, for
 * hash-tagged roots such as the read model's, `{<tag>…` (as the run's teardown finds them).
 */
async function redisDump(): Promise<string[]> {
  const { redis } = projections;
  const keys = [...(await scanKeys(redis, `${runTag()}*`)), ...(await scanKeys(redis, `{${runTag()}*`))];
  const out: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    const value =
      type === 'hash'
        ? await redis.hgetall(key)
        : type === 'zset'
          ? await redis.zrange(key, 0, -1, 'WITHSCORES')
          : type === 'string'
            ? await redis.get(key)
            : type === 'set'
              ? await redis.smembers(key)
              : type === 'list'
                ? await redis.lrange(key, 0, -1)
                : type;
    out.push(`${key} ${JSON.stringify(value)}`);
  }
  return out;
}

async function indexDump<T = AppointmentDoc>(alias = projections.pc.APPOINTMENTS_ALIAS): Promise<T[]> {
  await projections.engine.refresh(alias);
  const result = await projections.engine.search<T>(alias, { query: { match_all: {} }, size: 1000 });
  return result.hits.map((h) => h.source);
}

/** The hospital switches a schedule to rush mode: its bookings go through `booking.requests`. */
async function rushMode(scheduleId: string): Promise<void> {
  const res = await commands.http.post(`/v1/schedules/${scheduleId}/rush`, {
    token: await hospital(),
    idempotencyKey: randomUUID(),
    body: { enabled: true },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** A patient's booking through the queue, waited for until the request processor booked it. */
async function bookQueuedAs(sub: string, scheduleId: string): Promise<void> {
  const token = await asPatient(sub);
  const res = await commands.http.post('/v1/appointments', {
    token,
    idempotencyKey: randomUUID(),
    body: { scheduleId, patientId: sub },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const final = await waitFor(
    async () => {
      const r = await commands.http.get(`/v1/booking-requests/${String(res.body.requestId)}?wait=5`, {
        token,
      });
      return r.body?.status === 'queued' ? undefined : r;
    },
    { what: 'the queued booking decided', timeoutMs: 30_000 },
  );
  expect(final.body).toMatchObject({ status: 'booked' });
}

describe('patient data in the platform', () => {
  let kept: { appointmentId: string; checkpoint: string };
  let scheduleId: string;
  let pseudonym: string;

  it('a booked patient id appears on no topic, no Redis key or value, no index document, no stored event', async () => {
    scheduleId = await openSchedule();
    const other = await openSchedule();
    const rushed = await openSchedule();
    await rushMode(rushed);
    kept = await bookAs(patientId, scheduleId);
    const cancelled = await bookAs(patientId, other);
    await bookAs(otherPatientId, scheduleId);
    await bookQueuedAs(otherPatientId, rushed);
    const cancel = await commands.http.post(`/v1/appointments/${cancelled.appointmentId}/cancel`, {
      token: await asPatient(patientId),
      idempotencyKey: randomUUID(),
      body: { reason: 'changed my mind' },
    });
    expect(cancel.status).toBe(200);

    // The holder reads it back (the id revealed to them alone), once projected.
    const read = await readAppointment(kept.appointmentId, await asPatient(patientId), {
      'booking-checkpoint': kept.checkpoint,
    });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { appointment: { patientId: string } }).appointment.patientId).toBe(
      patientId,
    );
    const ours = <T extends { scheduleId: string; status: string }>(docs: T[]) => {
      const mine = docs.filter((d) => [scheduleId, other, rushed].includes(d.scheduleId));
      return mine.length === 4 && mine.some((d) => d.status === 'cancelled') ? mine : undefined;
    };
    const doc = await waitFor(async () => ours(await indexDump()), {
      what: 'four appointments indexed',
      timeoutMs: 30_000,
    });
    pseudonym = doc.find((d) => d.appointmentId === kept.appointmentId)!.patientPseudonym!;
    expect(pseudonym).toMatch(/^[0-9a-f]{64}$/);
    const analyticsDocs = await waitFor(async () => ours(await indexDump<AnalyticsDoc>(analyticsAlias)), {
      what: 'four appointments in the analytics index',
      timeoutMs: 30_000,
    });
    expect(analyticsDocs.find((d) => d.appointmentId === kept.appointmentId)?.patientPseudonym).toBe(
      pseudonym,
    );

    const { pc, kafka, pool } = projections;
    const { topics, records } = await runRecords(kafka);
    expect(topics).toEqual(expect.arrayContaining([pc.EVENTS_TOPIC, requestsTopic]));
    expect(records.length).toBeGreaterThanOrEqual(10);
    const redis = await redisDump();
    expect(redis.length).toBeGreaterThan(0);
    const index = [...(await indexDump()), ...(await indexDump<AnalyticsDoc>(analyticsAlias))];
    // The Idempotency-Key scopes (idempotency_keys, booking_requests) name a patient by digest.
    const scopes = [patientId, otherPatientId].map((sub) =>
      principalScope({ sub, role: 'patient' }, patientVault(pool, projections.config)),
    );
    const { rows: stored } = await pool.query<{ text: string }>(
      `SELECT data::text || metadata::text AS text FROM events WHERE stream_id = ANY($1)
       UNION ALL SELECT to_jsonb(r)::text FROM booking_requests r WHERE schedule_id = $2
       UNION ALL SELECT principal FROM idempotency_keys WHERE principal = ANY($3)`,
      [[scheduleId, other, rushed].map((id) => `schedule-${id}`), rushed, scopes],
    );
    expect(stored.length).toBe(15); // 6 + the rush schedule's 3 + its request + the patients' 5 keys
    for (const id of [patientId, otherPatientId]) {
      expect(records.filter((r) => recordText(r).includes(id)).map(recordText)).toEqual([]);
      expect(redis.filter((line) => line.includes(id))).toEqual([]);
      expect(index.filter((d) => JSON.stringify(d).includes(id))).toEqual([]);
      expect(stored.filter((r) => r.text.includes(id))).toEqual([]);
    }
  });

  it('authorises first: unknown 404 and foreign readers 403 at once, a checkpoint never issued 400', async () => {
    const far = '99999999999:99999999999';
    const t0 = Date.now();
    expect((await readAppointment(randomUUID(), await admin(), { 'booking-checkpoint': far })).status).toBe(
      404,
    );
    const stranger = await readAppointment(kept.appointmentId, await asPatient(otherPatientId), {
      'booking-checkpoint': far,
    });
    expect(stranger.status).toBe(403);
    const foreignHospital = await commands.tokenFor({
      sub: 'h-elsewhere',
      role: 'hospital',
      institutionId: '999999999999',
    });
    expect(
      (await readAppointment(kept.appointmentId, foreignHospital, { 'booking-checkpoint': far })).status,
    ).toBe(403);
    const beyond = await readAppointment(kept.appointmentId, await admin(), { 'booking-checkpoint': far });
    expect(beyond.status).toBe(400);
    expect(JSON.stringify(await beyond.json())).toContain('Booking-Checkpoint');
    // Four answers, none of which waited for the 10 s read-your-writes bound.
    expect(Date.now() - t0).toBeLessThan(5_000);
    const own = await readAppointment(kept.appointmentId, await hospital());
    expect(own.status).toBe(200);
    // The hospitals' reads are in the audit trail, the denied one too; the patients' are not.
    const { rows } = await commands.pool.query<{ actor_id: string; outcome: string }>(
      `SELECT actor_id, outcome FROM audit_log
        WHERE action = 'appointment.read' AND subject_id = $1 AND actor_role = 'hospital' ORDER BY id`,
      [kept.appointmentId],
    );
    expect(rows).toContainEqual({ actor_id: 'h-elsewhere', outcome: 'denied' });
    expect(rows.at(-1)).toEqual({ actor_id: 'hospital-crypto', outcome: 'allowed' });
    expect(rows.filter((r) => r.actor_id === 'h-elsewhere')).toHaveLength(1);
  });

  it('forget: admin only, idempotent by key, 404 once forgotten', async () => {
    const path = `/v1/patients/${patientId}/forget`;
    const byPatient = await commands.http.post(path, {
      token: await asPatient(patientId),
      idempotencyKey: randomUUID(),
    });
    expect(byPatient.status).toBe(403);
    const key = randomUUID();
    const first = await commands.http.post(path, { token: await admin(), idempotencyKey: key });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ status: 'forgotten' });
    const replay = await commands.http.post(path, { token: await admin(), idempotencyKey: key });
    expect(replay.status).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    const again = await commands.http.post(path, { token: await admin(), idempotencyKey: randomUUID() });
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ code: 'patient_not_found' });
  });

  it('after forget the identity is unrecoverable everywhere, the pseudonym unlinked, the events kept', async () => {
    const { pc, redis, pool, engine } = projections;
    const keys = keyspace(pc.READ_MODEL_PREFIX, 1);
    const { rows } = await pool.query<{ data: { patientRef: string; patient: string } }>(
      `SELECT data FROM events WHERE stream_id = $1 AND event_type = 'AppointmentBooked'
       AND data->>'appointmentId' = $2`,
      [`schedule-${scheduleId}`, kept.appointmentId],
    );
    expect(rows).toHaveLength(1); // history intact
    const { patientRef, patient } = rows[0]!.data;
    const vault = patientVault(pool, projections.config);
    expect(await vault.patientIdOf(patientRef, patient)).toBeUndefined();
    expect(await vault.pseudonym(patientRef)).toBeUndefined();
    const { rows: forgotten } = await pool.query(
      `SELECT data FROM events WHERE stream_id = $1 AND event_type = 'PatientForgotten'`,
      [`patient-${patientRef}`],
    );
    expect(forgotten).toEqual([{ data: expect.objectContaining({ patientRef, pseudonym }) }]);

    await waitFor(
      async () => {
        const list = await redis.exists(keys.patientAppointments(patientRef));
        const hash = await redis.hgetall(keys.appointment(kept.appointmentId));
        return list === 0 && hash.patientRef === undefined && hash.patient === undefined ? hash : undefined;
      },
      { what: 'the Redis read model drops the patient', timeoutMs: 30_000 },
    );
    await waitFor(
      async () => {
        await engine.refresh(pc.APPOINTMENTS_ALIAS);
        return (await engine.count(pc.APPOINTMENTS_ALIAS, { term: { patientPseudonym: pseudonym } })) === 0
          ? true
          : undefined;
      },
      { what: 'the pseudonym gone from the index', timeoutMs: 30_000 },
    );
    const doc = await engine.get<AppointmentDoc>(pc.APPOINTMENTS_ALIAS, kept.appointmentId);
    expect(doc?.source).toMatchObject({ status: 'active', patientPseudonym: null });
    // The analytics projector clears it too (it heard the same PatientForgotten).
    const analyticsDoc = await waitFor(
      async () => {
        const docs = await indexDump<AnalyticsDoc>(analyticsAlias);
        return docs.some((d) => d.patientPseudonym === pseudonym)
          ? undefined
          : docs.find((d) => d.appointmentId === kept.appointmentId);
      },
      { what: 'the pseudonym gone from the analytics index', timeoutMs: 30_000 },
    );
    expect(analyticsDoc).toMatchObject({ status: 'active', patientPseudonym: null });

    const asAdmin = await readAppointment(kept.appointmentId, await admin());
    expect(asAdmin.status).toBe(200);
    const body = (await asAdmin.json()) as { appointment: Record<string, unknown> };
    expect(body.appointment).toMatchObject({ appointmentId: kept.appointmentId, patientId: null });
    expect(JSON.stringify(body)).not.toContain(patientRef);
    expect((await readAppointment(kept.appointmentId, await asPatient(patientId))).status).toBe(403);
  });

  it('the anonymous appointment: the forgotten patient cannot cancel it, the hospital can', async () => {
    const cancel = (token: string) =>
      commands.http.post(`/v1/appointments/${kept.appointmentId}/cancel`, {
        token,
        idempotencyKey: randomUUID(),
        body: {},
      });
    expect((await cancel(await asPatient(patientId))).status).toBe(403);
    expect((await cancel(await hospital())).status).toBe(200);
  });

  it('202 with what the command side knows when the read model has not caught up', async () => {
    await redisProjector.stop();
    const quick = await startQueryInstance(projections.config, {
      catalogPrefix: `${projections.pc.READ_MODEL_PREFIX}-catalog:`,
      searchAlias: projections.pc.APPOINTMENTS_ALIAS,
      readModelRoot: projections.pc.READ_MODEL_PREFIX,
      jwtSecret: TEST_SECRET,
      queryConfig: { QUERY_RYW_TIMEOUT_MS: 300 },
    });
    try {
      const booked = await bookAs(otherPatientId, await openSchedule());
      const res = await quick.get(`/v1/appointments/${booked.appointmentId}`, {
        authorization: `Bearer ${await asPatient(otherPatientId)}`,
        'booking-checkpoint': booked.checkpoint,
      });
      expect(res.status).toBe(202);
      expect(res.headers.get('x-data-stale')).toBe('checkpoint-not-reached');
      expect(await res.json()).toEqual({
        appointment: {
          appointmentId: booked.appointmentId,
          scheduleId: expect.any(String) as string,
          status: 'pending',
          patientId: null,
        },
      });
    } finally {
      await quick.close();
    }
  });
});
