/**
 * The read side of numbered slots (issue 15) on the real engines: command API → event store →
 * relay → Kafka → Redis projector → query API. A hold shows as held and then confirmed; an expired
 * hold gives its slot back; the patient's own list and the hospital's day list follow every
 * transition; each read sends back the Booking-Checkpoint of the write it must see.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CommandApiDeps } from '../../command-api/app.ts';
import type { Config } from '../../platform/config.ts';
import { DEV_PATIENT_KEK } from '../../platform/patient-vault.ts';
import { givenCatalogDoctor } from '../support/catalog-mother.ts';
import {
  anOpenScheduleRequest,
  newKey,
  startCommandApi,
  TEST_SECRET,
  type Harness as CommandHarness,
} from '../support/command-api-harness.ts';
import {
  latestCheckpoint,
  projectionsHarness,
  type Harness as ProjectionsHarness,
} from '../support/projections-harness.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { sendAsCarefulClient } from '../support/careful-client.ts';

interface Slot {
  slot: number;
  startsAt: string;
  state: string;
  holdExpiresAt?: string;
}
interface Schedule {
  scheduleId: string;
  booked: number;
  remaining: number;
  slots?: Slot[];
  appointments?: Listed[];
}
interface Listed {
  appointmentId: string;
  scheduleId: string;
  status: string;
  [field: string]: string;
}

let commands: CommandHarness;
let projections: ProjectionsHarness;
let query: QueryInstance;
let hospitalToken: string;
let adminToken: string;

beforeAll(async () => {
  commands = await startCommandApi({
    // The deadline poller is driven by hand (pollOnce), so the test says when a hold expires.
    config: {
      JWT_SECRET: TEST_SECRET,
      PATIENT_KEK: DEV_PATIENT_KEK,
      DEADLINE_POLL_MS: 0,
    } satisfies Partial<Config> as CommandApiDeps['config'],
  });
  projections = await projectionsHarness();
  await projections.startRelay();
  await projections.startProjector('redis');
  query = await startQueryInstance(projections.config, {
    catalogPrefix: `${projections.pc.READ_MODEL_PREFIX}-catalog:`,
    searchAlias: projections.pc.APPOINTMENTS_ALIAS,
    readModelRoot: projections.pc.READ_MODEL_PREFIX,
    jwtSecret: TEST_SECRET,
    queryConfig: { QUERY_RYW_TIMEOUT_MS: 5000 },
  });
  hospitalToken = await commands.tokenFor({ ...commands.hospital, sub: 'hospital-slots-read' });
  adminToken = await commands.tokenFor({ sub: 'admin-slots-read', role: 'admin' });
}, 120_000);

afterAll(async () => {
  await query?.close();
  await projections?.close();
  await commands?.stop();
});

afterEach(() => {
  commands.clock.now = () => new Date();
});

/** A doctor of its own (of the hospital's institution): its schedules and day are the test's alone. */
const aDoctor = () => givenCatalogDoctor(commands.pool, { institutionId: commands.catalog.institutionId });

async function command(path: string, token: string, body: Record<string, unknown>) {
  const idempotencyKey = newKey();
  // A request shed under load is sent again with its key (tests/support/careful-client.ts).
  return sendAsCarefulClient(() => commands.http.post(path, { token, idempotencyKey, body }));
}

const checkpointOf = (res: { headers: Record<string, unknown> }): string => {
  const cp = res.headers['booking-checkpoint'];
  if (typeof cp !== 'string') throw new Error('no Booking-Checkpoint');
  return cp;
};

async function openNumbered(count: number, fee: number, extra: Record<string, unknown> = {}) {
  const doctor = await aDoctor();
  const body = anOpenScheduleRequest(doctor, {
    capacity: count,
    fee,
    slots: { firstSlotTime: '08:00', intervalMinutes: 10, count },
    ...extra,
  });
  const res = await command('/v1/schedules', hospitalToken, body);
  expect(res.status).toBe(201);
  return {
    scheduleId: String(res.body.scheduleId),
    doctorId: doctor.doctorId,
    date: body.date,
    checkpoint: checkpointOf(res),
  };
}

async function book(scheduleId: string, patientId: string) {
  const token = await commands.tokenFor({ sub: patientId, role: 'patient' });
  const res = await command('/v1/appointments', token, { scheduleId, patientId });
  expect(res.status).toBe(201);
  return { appointmentId: String(res.body.appointmentId), checkpoint: checkpointOf(res) };
}

const staff = (path: string) => command(path, adminToken, {});

async function readJson<T>(path: string, headers: Record<string, string> = {}) {
  return sendAsCarefulClient(async () => {
    const res = await query.get(path, headers);
    const text = await res.text();
    const body = JSON.parse(text) as T & { code?: string };
    const retryAfter = res.headers.get('retry-after');
    return {
      status: res.status,
      stale: res.headers.get('x-data-stale'),
      text,
      body,
      headers: { 'retry-after': retryAfter },
    };
  });
}

const slotsOf = (scheduleId: string, checkpoint: string) =>
  readJson<{ schedule: Schedule }>(`/v1/schedules/${scheduleId}/slots`, { 'booking-checkpoint': checkpoint });

const myList = async (patientId: string, checkpoint?: string, cursor?: string) =>
  readJson<{ items: Listed[]; nextCursor: string | null }>(
    `/v1/patients/me/appointments?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
    {
      authorization: `Bearer ${await commands.tokenFor({ sub: patientId, role: 'patient' })}`,
      ...(checkpoint ? { 'booking-checkpoint': checkpoint } : {}),
    },
  );

const dayList = (
  s: { doctorId: string; date: string },
  checkpoint: string,
  token = hospitalToken,
  institutionId = commands.catalog.institutionId,
) =>
  readJson<{ schedules: Schedule[] }>(
    `/v1/institutions/${institutionId}/day-list?doctorId=${s.doctorId}&date=${s.date}`,
    { authorization: `Bearer ${token}`, 'booking-checkpoint': checkpoint },
  );

describe('slot availability, the patient list and the day list', () => {
  it('hold → confirm: held with its deadline, then confirmed, on every route, read at its checkpoint', async () => {
    const s = await openNumbered(3, 5000);
    const opened = await slotsOf(s.scheduleId, s.checkpoint);
    expect([opened.status, opened.stale]).toEqual([200, null]);
    expect(opened.body.schedule).toMatchObject({ scheduleId: s.scheduleId, remaining: 3, booked: 0 });
    expect(opened.body.schedule.slots?.map((x) => x.state)).toEqual(['free', 'free', 'free']);

    const patientId = `p-${randomUUID().slice(0, 8)}`;
    const held = await book(s.scheduleId, patientId);
    const afterHold = await slotsOf(s.scheduleId, held.checkpoint);
    expect([afterHold.status, afterHold.stale]).toEqual([200, null]);
    expect(afterHold.body.schedule).toMatchObject({ remaining: 2, booked: 1 });
    expect(afterHold.body.schedule.slots?.[0]).toMatchObject({ slot: 1, state: 'held' });
    expect(Date.parse(afterHold.body.schedule.slots?.[0]?.holdExpiresAt ?? '')).toBeGreaterThan(Date.now());
    // A slot says its state, never whose it is.
    expect(afterHold.text).not.toContain(held.appointmentId);
    expect(afterHold.text).not.toContain('patientRef');

    const doctorView = await readJson<{ schedules: Schedule[] }>(
      `/v1/doctors/${s.doctorId}/schedules?from=${s.date}&to=${s.date}`,
      { 'booking-checkpoint': held.checkpoint },
    );
    expect(doctorView.stale).toBeNull();
    expect(doctorView.body.schedules[0]?.slots?.map((x) => x.state)).toEqual(['held', 'free', 'free']);

    const listHeld = await myList(patientId, held.checkpoint);
    expect([listHeld.status, listHeld.stale]).toEqual([200, null]);
    expect(listHeld.body.items).toEqual([
      expect.objectContaining({ appointmentId: held.appointmentId, status: 'held', slot: '1' }),
    ]);
    expect(listHeld.body.items[0]?.holdExpiresAt).toBeTruthy();
    expect(listHeld.text).not.toContain('patientRef');

    const paid = await command(`/v1/appointments/${held.appointmentId}/confirm-payment`, adminToken, {
      paymentRef: `pay-${randomUUID().slice(0, 8)}`,
      amount: 5000,
    });
    expect(paid.status).toBe(200);
    const cp = checkpointOf(paid);
    const afterPay = await slotsOf(s.scheduleId, cp);
    expect(afterPay.stale).toBeNull();
    expect(afterPay.body.schedule.slots?.map((x) => x.state)).toEqual(['confirmed', 'free', 'free']);
    expect(afterPay.body.schedule.remaining).toBe(2);
    const listPaid = await myList(patientId, cp);
    expect(listPaid.stale).toBeNull();
    expect(listPaid.body.items[0]).toMatchObject({ status: 'confirmed' });
    expect(listPaid.body.items[0]?.confirmedAt).toBeTruthy();

    const day = await dayList(s, cp);
    expect([day.status, day.stale]).toEqual([200, null]);
    expect(day.body.schedules).toHaveLength(1);
    expect(day.body.schedules[0]?.appointments).toEqual([
      expect.objectContaining({ appointmentId: held.appointmentId, slot: '1', status: 'confirmed' }),
    ]);
    expect(day.text).not.toContain('patientRef');
  });

  it('hold → expire: the slot comes back free and the lists say expired', async () => {
    const s = await openNumbered(1, 5000);
    const patientId = `p-${randomUUID().slice(0, 8)}`;
    const held = await book(s.scheduleId, patientId);
    expect((await slotsOf(s.scheduleId, held.checkpoint)).body.schedule.remaining).toBe(0);

    const at = Date.now() + 16 * 60_000;
    commands.clock.now = () => new Date(at);
    await commands.api.deadlines.pollOnce();
    // The poller's write returned no checkpoint to us: the store's head now covers it.
    const cp = (await latestCheckpoint(commands.pool))!;
    const expired = await slotsOf(s.scheduleId, cp);
    expect([expired.status, expired.stale]).toEqual([200, null]);
    expect(expired.body.schedule).toMatchObject({ remaining: 1, booked: 0 });
    expect(expired.body.schedule.slots).toEqual([expect.objectContaining({ slot: 1, state: 'free' })]);

    const list = await myList(patientId, cp);
    expect(list.body.items).toEqual([
      expect.objectContaining({ appointmentId: held.appointmentId, status: 'expired' }),
    ]);
    expect(list.body.items[0]?.expiredAt).toBeTruthy();
    const day = await dayList(s, cp);
    expect(day.body.schedules[0]?.appointments).toEqual([
      expect.objectContaining({ appointmentId: held.appointmentId, status: 'expired' }),
    ]);
  });

  it('check-in and no-show reach the day list; only the institution’s hospital or an admin reads it', async () => {
    const s = await openNumbered(2, 0);
    const [a, b] = [`p-${randomUUID().slice(0, 8)}`, `p-${randomUUID().slice(0, 8)}`];
    const first = await book(s.scheduleId, a);
    const { appointmentId: bId } = await book(s.scheduleId, b);

    // After the session's last slot: both may be recorded.
    const after = Date.parse(`${s.date}T00:00:00Z`) + 86_400_000;
    commands.clock.now = () => new Date(after);
    expect((await staff(`/v1/appointments/${first.appointmentId}/check-in`)).status).toBe(200);
    const noShow = await staff(`/v1/appointments/${bId}/no-show`);
    expect(noShow.status).toBe(200);
    const cp = checkpointOf(noShow);

    const day = await dayList(s, cp);
    expect(day.stale).toBeNull();
    expect(day.body.schedules[0]?.appointments?.map((x) => [x.slot, x.status])).toEqual([
      ['1', 'checked_in'],
      ['2', 'no_show'],
    ]);
    expect(day.body.schedules[0]?.slots?.map((x) => x.state)).toEqual(['confirmed', 'confirmed']);
    expect((await myList(a, cp)).body.items[0]).toMatchObject({ status: 'checked_in' });

    const admin = await dayList(s, cp, adminToken);
    expect(admin.status).toBe(200);
    const otherHospital = await commands.tokenFor({
      sub: 'h-other',
      role: 'hospital',
      institutionId: '999999',
    });
    expect((await dayList(s, cp, otherHospital)).status).toBe(403);
    expect((await dayList(s, cp, await commands.tokenFor({ sub: a, role: 'patient' }))).status).toBe(403);
    const badDate = await readJson(
      `/v1/institutions/${commands.catalog.institutionId}/day-list?doctorId=${s.doctorId}&date=2030-02-30`,
      { authorization: `Bearer ${hospitalToken}` },
    );
    expect(badDate.status).toBe(400);
  });

  it("pages the patient's list by keyset, and says nothing of anyone else's", async () => {
    const patientId = `p-${randomUUID().slice(0, 8)}`;
    const booked: string[] = [];
    const checkpoints: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await openNumbered(2, 0);
      const b = await book(s.scheduleId, patientId);
      booked.push(b.appointmentId);
      checkpoints.push(b.checkpoint);
    }
    // Each booking's schedule is projected on its own partition: a read at the last checkpoint
    // promises that booking, not the two before it (another schedule being further proves nothing).
    // Read at each checkpoint, as a client that wants all three does; each is judged on its schedule.
    for (const cp of checkpoints) expect((await myList(patientId, cp)).stale).toBeNull();
    const first = await myList(patientId, checkpoints.at(-1));
    expect(first.status).toBe(200);
    expect(first.stale).toBeNull();
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toBeTruthy();
    const second = await myList(patientId, undefined, first.body.nextCursor!);
    expect(second.body.items).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();
    const seen = [...first.body.items, ...second.body.items].map((x) => x.appointmentId);
    expect(new Set(seen)).toEqual(new Set(booked));

    const stranger = await myList(`p-${randomUUID().slice(0, 8)}`);
    expect(stranger.body.items).toEqual([]);
    const bad = await myList(patientId, undefined, 'not-a-cursor');
    expect(bad.status).toBe(400);
    const staffRead = await readJson('/v1/patients/me/appointments', {
      authorization: `Bearer ${hospitalToken}`,
    });
    expect(staffRead.status).toBe(403);
    expect((await readJson('/v1/patients/me/appointments')).status).toBe(401);
  });
});
