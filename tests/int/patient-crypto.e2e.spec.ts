/**
 * Patient data protection end to end (docs/adr/0010): patients book and cancel through the
 * command API with the relay, both projectors and the query API running on the run's topic,
 * keyspace and index. Then every record on the topics the platform wrote, every Redis key and
 * value under the run's prefix, every document of the run's index and every stored event are
 * searched for the patient's id: nothing. Then an admin forgets the patient: the events stay, the
 * identity is unrecoverable everywhere, the read models drop it, the pseudonym no longer links,
 * the anonymous appointment can still be cancelled by the hospital — and not by the patient.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patientVault } from '../../platform/patient-vault.ts';
import type { ProjectorHandle } from '../../projections/runtime/projector-runtime.ts';
import type { AppointmentDoc } from '../../projections/search/appointments-model.ts';
import { keyspace, rootPrefix } from '../../read-models/bookings.ts';
import { givenCatalogDoctor } from '../support/catalog-mother.ts';
import {
  anOpenScheduleRequest,
  startCommandApi,
  TEST_SECRET,
  type Harness as CommandHarness,
} from '../support/command-api-harness.ts';
import { projectionsHarness, type Harness as ProjectionsHarness } from '../support/projections-harness.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

let commands: CommandHarness;
let projections: ProjectionsHarness;
let query: QueryInstance;
let redisProjector: ProjectorHandle;

const patientId = `patient-${randomUUID()}`;
const otherPatientId = `patient-${randomUUID()}`;

beforeAll(async () => {
  commands = await startCommandApi();
  projections = await projectionsHarness();
  await projections.startRelay();
  redisProjector = await projections.startProjector('redis');
  await projections.startProjector('search');
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
  await query?.close();
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

async function allMessages(kafka: Kafka, topic: string): Promise<KafkaMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  if (total === 0) return [];
  const consumer = kafka.consumer({ groupId: uniqueName('test-scan') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: KafkaMessage[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
  await waitFor(() => (seen.length >= total ? true : undefined), { what: `${total} records of ${topic}` });
  await consumer.disconnect();
  return seen;
}

const recordText = (m: KafkaMessage): string =>
  [
    String(m.key ?? ''),
    String(m.value ?? ''),
    ...Object.entries(m.headers ?? {}).map(([k, v]) => `${k}=${String(v)}`),
  ].join('\n');

/** Every key under the run's prefix with its value, as text. */
async function redisDump(prefix: string): Promise<string[]> {
  const { redis } = projections;
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${rootPrefix(prefix)}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const value =
        type === 'hash'
          ? await redis.hgetall(key)
          : type === 'zset'
            ? await redis.zrange(key, 0, -1, 'WITHSCORES')
            : type === 'string'
              ? await redis.get(key)
              : type;
      out.push(`${key} ${JSON.stringify(value)}`);
    }
  } while (cursor !== '0');
  return out;
}

async function indexDump(): Promise<AppointmentDoc[]> {
  await projections.engine.refresh(projections.pc.APPOINTMENTS_ALIAS);
  const result = await projections.engine.search<AppointmentDoc>(projections.pc.APPOINTMENTS_ALIAS, {
    query: { match_all: {} },
    size: 1000,
  });
  return result.hits.map((h) => h.source);
}

describe('patient data in the platform', () => {
  let kept: { appointmentId: string; checkpoint: string };
  let scheduleId: string;
  let pseudonym: string;

  it('a booked patient id appears on no topic, no Redis key or value, no index document, no stored event', async () => {
    scheduleId = await openSchedule();
    const other = await openSchedule();
    kept = await bookAs(patientId, scheduleId);
    const cancelled = await bookAs(patientId, other);
    await bookAs(otherPatientId, scheduleId);
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
    const doc = await waitFor(
      async () => {
        const docs = await indexDump();
        const mine = docs.filter((d) => d.scheduleId === scheduleId || d.scheduleId === other);
        return mine.length === 3 && mine.some((d) => d.status === 'cancelled') ? mine : undefined;
      },
      { what: 'three appointments indexed', timeoutMs: 30_000 },
    );
    pseudonym = doc.find((d) => d.appointmentId === kept.appointmentId)!.patientPseudonym!;
    expect(pseudonym).toMatch(/^[0-9a-f]{64}$/);

    const { pc, kafka, pool } = projections;
    const records = [
      ...(await allMessages(kafka, pc.EVENTS_TOPIC)),
      ...(await allMessages(kafka, pc.EVENTS_DLQ_TOPIC)),
    ];
    expect(records.length).toBeGreaterThanOrEqual(6);
    const redis = await redisDump(pc.READ_MODEL_PREFIX);
    expect(redis.length).toBeGreaterThan(0);
    const index = await indexDump();
    const { rows: stored } = await pool.query<{ text: string }>(
      `SELECT data::text || metadata::text AS text FROM events WHERE stream_id IN ($1, $2)`,
      [`schedule-${scheduleId}`, `schedule-${other}`],
    );
    expect(stored.length).toBe(6);
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
