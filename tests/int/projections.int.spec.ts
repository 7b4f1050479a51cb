import { randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyspace } from '../../read-models/bookings.ts';
import type { BookAppointment } from '../../domain/schedule.ts';
import { patientVault } from '../../platform/patient-vault.ts';
import type { AppointmentDoc } from '../../projections/search/appointments-model.ts';
import { hospitalDate } from '../../read-models/hospital-date.ts';
import { DLQ_HEADERS } from '../../projections/runtime/messages.ts';
import type { ProjectorHandle } from '../../projections/runtime/projector-runtime.ts';
import { projectionsHarness, type Harness } from '../support/projections-harness.ts';
import {
  aBooking,
  aCancellation,
  anOpenSchedule,
  BEFORE_SESSION,
  patient,
} from '../support/schedule-mother.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

let h: Harness;
let redisProjector: ProjectorHandle;
let searchProjector: ProjectorHandle;

const alice = patient();
const bob = patient();
// Patients by reference, with a real data key each (as the command API resolves them).
let aliceRef: string;
let bobRef: string;
let bobPseudonym: string;
let a1: BookAppointment;
let a2: BookAppointment;

beforeAll(async () => {
  h = await projectionsHarness();
  const vault = patientVault(h.pool, h.config);
  const [ra, rb] = [await vault.resolve(alice.id), await vault.resolve(bob.id)];
  aliceRef = ra.patientRef;
  bobRef = rb.patientRef;
  bobPseudonym = (await vault.pseudonym(bobRef))!;
  a1 = aBooking(open.scheduleId, ra);
  a2 = aBooking(open.scheduleId, rb);
  await h.startRelay();
  redisProjector = await h.startProjector('redis');
  searchProjector = await h.startProjector('search');
});

afterAll(async () => {
  await h?.close();
});

const institutionId = `inst-${randomUUID().slice(0, 8)}`;
const departmentId = `dept-${randomUUID().slice(0, 8)}`;
const doctorId = `doc-${randomUUID().slice(0, 8)}`;
const open = anOpenSchedule({ capacity: 5, institutionId, departmentId, doctorId });
const day = hospitalDate(BEFORE_SESSION.toISOString());

async function readAll(topic: string): Promise<KafkaMessage[]> {
  const admin = h.kafka.admin();
  await admin.connect();
  const total = (await admin.fetchTopicOffsets(topic)).reduce(
    (n, p) => n + Number(p.high) - Number(p.low),
    0,
  );
  await admin.disconnect();
  const consumer = h.kafka.consumer({ groupId: uniqueName('test-reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: KafkaMessage[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
  await waitFor(() => (seen.length >= total ? true : undefined), { what: `${total} messages of ${topic}` });
  await consumer.disconnect();
  return seen;
}

/** This file's part of the read models (other tests' events flow through the same relay). */
async function mine() {
  const keys = keyspace(h.pc.READ_MODEL_PREFIX, 1);
  return {
    schedule: await h.redis.hgetall(keys.schedule(open.scheduleId)),
    doctor: await h.redis.zrange(keys.doctorSchedules(doctorId), 0, -1, 'WITHSCORES'),
    alice: await h.redis.zrange(keys.patientAppointments(aliceRef), 0, -1, 'WITHSCORES'),
    bob: await h.redis.zrange(keys.patientAppointments(bobRef), 0, -1, 'WITHSCORES'),
    a1: await h.redis.hgetall(keys.appointment(a1.appointmentId)),
    a2: await h.redis.hgetall(keys.appointment(a2.appointmentId)),
    institution: await h.redis.hget(keys.bookingsByInstitution(day), institutionId),
    department: await h.redis.hget(keys.bookingsByDepartment(day), departmentId),
    hot: await h.redis.zscore(keys.hotDepartments(day), departmentId),
  };
}

const lagZero = (p: ProjectorHandle) =>
  waitFor(async () => ((await p.lag()) === 0 ? true : undefined), {
    what: `${p.name} lag 0`,
    timeoutMs: 30_000,
  });

describe('relay and projectors end to end', () => {
  it('a command becomes visible in Redis and in the search index', async () => {
    const keys = keyspace(h.pc.READ_MODEL_PREFIX, 1);
    await h.execute(open.scheduleId, open);
    await h.execute(open.scheduleId, a1);
    await h.execute(open.scheduleId, a2);
    await h.execute(open.scheduleId, aCancellation(a2.appointmentId));

    const schedule = await waitFor(
      async () => {
        const hash = await h.redis.hgetall(keys.schedule(open.scheduleId));
        return hash.rev === '3' ? hash : undefined;
      },
      { what: 'schedule availability at revision 3' },
    );
    expect(schedule).toMatchObject({ capacity: '5', booked: '1', remaining: '4', status: 'open', doctorId });
    expect(await h.redis.zrange(keys.doctorSchedules(doctorId), 0, -1)).toEqual([open.scheduleId]);
    expect(await h.redis.zrange(keys.patientAppointments(aliceRef), 0, -1)).toEqual([a1.appointmentId]);
    expect(await h.redis.hget(keys.appointment(a2.appointmentId), 'status')).toBe('cancelled');
    expect(await h.redis.hget(keys.bookingsByInstitution(day), institutionId)).toBe('2');
    expect(await h.redis.hget(keys.bookingsByDepartment(day), departmentId)).toBe('2');
    expect(await h.redis.zscore(keys.hotDepartments(day), departmentId)).toBe('2');

    const doc = await waitFor(
      async () => {
        const hit = await h.engine.get<AppointmentDoc>(h.pc.APPOINTMENTS_ALIAS, a2.appointmentId);
        return hit?.source.status === 'cancelled' ? hit : undefined;
      },
      { what: 'cancelled appointment in the index' },
    );
    expect(doc.version).toBe(3);
    expect(doc.source).toMatchObject({
      appointmentId: a2.appointmentId,
      scheduleId: open.scheduleId,
      institutionId,
      institutionName: institutionId, // no catalog row: the id stands in for the name
      departmentId,
      doctorId,
      date: open.date,
      period: open.period,
      bookedAt: BEFORE_SESSION.toISOString(),
      cancelledAt: BEFORE_SESSION.toISOString(),
      patientPseudonym: bobPseudonym,
    });
    expect(JSON.stringify(doc.source)).not.toContain(bob.id);
    await h.engine.refresh(h.pc.APPOINTMENTS_ALIAS);
    expect(await h.engine.count(h.pc.APPOINTMENTS_ALIAS, { term: { scheduleId: open.scheduleId } })).toBe(2);
  });

  it('duplicate delivery does not double-count: the same events published twice change nothing', async () => {
    await lagZero(redisProjector);
    await lagZero(searchProjector);
    const before = await mine();
    const versionBefore = (await h.engine.get(h.pc.APPOINTMENTS_ALIAS, a1.appointmentId))?.version;

    const published = await readAll(h.pc.EVENTS_TOPIC);
    expect(published.length).toBeGreaterThanOrEqual(4);
    const producer = h.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: h.pc.EVENTS_TOPIC,
      acks: -1,
      messages: published.map((m) => ({ key: m.key, value: m.value, headers: m.headers ?? {} })),
    });
    await producer.disconnect();
    await lagZero(redisProjector);
    await lagZero(searchProjector);

    expect(await mine()).toEqual(before);
    expect((await h.engine.get(h.pc.APPOINTMENTS_ALIAS, a1.appointmentId))?.version).toBe(versionBefore);
    expect(redisProjector.stats.deadLettered).toBe(0);
  });

  it('a poison event lands in the dead-letter topic with its reason, and the projectors keep going', async () => {
    const poisonStream = `schedule-${open.scheduleId}`;
    const producer = h.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: h.pc.EVENTS_TOPIC,
      acks: -1,
      messages: [
        { key: poisonStream, value: '{not json', headers: { 'event-type': 'AppointmentBooked' } },
        {
          key: poisonStream,
          value: JSON.stringify({
            eventId: randomUUID(),
            streamId: poisonStream,
            revision: 99,
            type: 'AppointmentBooked',
            data: { scheduleId: open.scheduleId }, // no appointmentId, patientId, bookedAt
            metadata: {},
            createdAt: new Date().toISOString(),
            checkpoint: '0:0',
          }),
        },
      ],
    });
    await producer.disconnect();

    // And a good command after the poison.
    const a3 = aBooking(open.scheduleId);
    await h.execute(open.scheduleId, a3);
    await waitFor(
      async () =>
        (await h.redis.hget(keyspace(h.pc.READ_MODEL_PREFIX, 1).schedule(open.scheduleId), 'rev')) === '4'
          ? true
          : undefined,
      { what: 'the booking after the poison applied' },
    );
    await waitFor(
      async () => ((await h.engine.get(h.pc.APPOINTMENTS_ALIAS, a3.appointmentId)) ? true : undefined),
      {
        what: 'the booking after the poison indexed',
      },
    );

    const dead = await waitFor(
      async () => {
        const all = await readAll(h.pc.EVENTS_DLQ_TOPIC);
        return all.length >= 4 ? all : undefined;
      },
      { what: 'four dead letters (two per projector)', timeoutMs: 30_000 },
    );
    const headers = dead.map((m) =>
      Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])),
    );
    expect(headers.map((x) => x[DLQ_HEADERS.projector]).sort()).toEqual([
      'redis',
      'redis',
      'search',
      'search',
    ]);
    expect(headers.every((x) => x[DLQ_HEADERS.topic] === h.pc.EVENTS_TOPIC)).toBe(true);
    expect(headers.some((x) => x[DLQ_HEADERS.reason]?.includes('not JSON'))).toBe(true);
    expect(headers.some((x) => x[DLQ_HEADERS.reason]?.includes('patientId'))).toBe(true);
    expect(headers.every((x) => /^\d+$/.test(x[DLQ_HEADERS.offset] ?? ''))).toBe(true);
  });
});
