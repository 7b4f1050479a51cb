/**
 * Read-your-writes through the whole platform: command API → event store → relay → Kafka →
 * Redis projector → query API. The query sends back the Booking-Checkpoint the command returned
 * and must see its own booking, without waiting on the client side.
 */
import { DEV_PATIENT_KEK } from '../../platform/patient-vault.ts';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { givenCatalogDoctor } from '../support/catalog-mother.ts';
import {
  anOpenScheduleRequest,
  startCommandApi,
  TEST_SECRET,
  type Harness as CommandHarness,
} from '../support/command-api-harness.ts';
import { projectionsHarness, type Harness as ProjectionsHarness } from '../support/projections-harness.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { waitFor } from '../support/wait.ts';

describe('read-your-writes after a booking', () => {
  let commands: CommandHarness;
  let projections: ProjectionsHarness;
  let query: QueryInstance;
  let hospitalToken: string;

  beforeAll(async () => {
    commands = await startCommandApi({
      config: { JWT_SECRET: TEST_SECRET, IDEMPOTENCY_TTL_HOURS: 24, PATIENT_KEK: DEV_PATIENT_KEK },
    });
    projections = await projectionsHarness();
    await projections.startRelay();
    await projections.startProjector('redis');
    query = await startQueryInstance(projections.config, {
      catalogPrefix: `${projections.pc.READ_MODEL_PREFIX}-catalog:`,
      searchAlias: projections.pc.APPOINTMENTS_ALIAS,
      readModelRoot: projections.pc.READ_MODEL_PREFIX,
      jwtSecret: TEST_SECRET,
      queryConfig: { QUERY_RYW_TIMEOUT_MS: 2000, QUERY_RYW_WAITS_PER_CLIENT: 2 },
    });
    hospitalToken = await commands.tokenFor({ ...commands.hospital, sub: 'hospital-ryw' });
  }, 120_000);

  afterAll(async () => {
    await query?.close();
    await projections?.close();
    await commands?.stop();
  });

  /** A doctor of its own (of the hospital's institution): the doctor's schedule list is the test's alone. */
  const aDoctor = () => givenCatalogDoctor(commands.pool, { institutionId: commands.catalog.institutionId });

  it('sees its own booking at once when it sends back the checkpoint, and the schedule shows it', async () => {
    const doctor = await aDoctor();
    const { doctorId } = doctor;
    const request = anOpenScheduleRequest(doctor, { capacity: 5 });
    const res = await commands.http.post('/v1/schedules', {
      token: hospitalToken,
      idempotencyKey: randomUUID(),
      body: request,
    });
    expect(res.status).toBe(201);
    const { scheduleId } = res.body as { scheduleId: string };
    // The patient looks at the schedule first, so its bytes sit in the query API's cache
    // (the second read comes from the fast path) before the booking changes them.
    const schedulesPath = `/v1/doctors/${doctorId}/schedules?from=${request.date}&to=${request.date}`;
    await waitFor(
      async () => {
        const res = await query.get(schedulesPath);
        return res.status === 200 ? true : undefined;
      },
      { timeoutMs: 10_000, what: 'the opened schedule in the read model' },
    );
    expect((await query.get(schedulesPath)).headers.get('x-cache')).toBe('l1-hit');
    const patientId = `p-${randomUUID().slice(0, 8)}`;
    const patientToken = await commands.tokenFor({ sub: patientId, role: 'patient' });
    const booked = await commands.http.post('/v1/appointments', {
      token: patientToken,
      idempotencyKey: randomUUID(),
      body: { scheduleId, patientId },
    });
    expect(booked.status).toBe(201);
    const checkpoint = booked.headers['booking-checkpoint'] as string;
    expect(checkpoint).toMatch(/^\d+:\d+$/);
    const { appointmentId } = booked.body as { appointmentId: string };

    const t0 = Date.now();
    const read = await query.get(`/v1/appointments/${appointmentId}`, {
      authorization: `Bearer ${patientToken}`,
      'booking-checkpoint': checkpoint,
    });
    const waitedMs = Date.now() - t0;
    expect(read.status).toBe(200);
    expect(read.headers.get('x-data-stale')).toBeNull();
    const body = (await read.json()) as {
      appointment: { status: string; patientId: string; scheduleId: string };
    };
    expect(body.appointment).toMatchObject({ status: 'active', patientId, scheduleId });
    console.log(`[read-your-writes] appointment readable ${waitedMs} ms after the command answered`);

    const schedules = await query.get(schedulesPath, { 'booking-checkpoint': checkpoint });
    expect(schedules.status).toBe(200);
    expect(schedules.headers.get('x-data-stale')).toBeNull();
    const list = (await schedules.json()) as {
      schedules: { scheduleId: string; booked: number; remaining: number }[];
    };
    expect(list.schedules).toEqual([expect.objectContaining({ scheduleId, booked: 1, remaining: 4 })]);

    // Another patient may not read it; a hospital may.
    const stranger = await commands.tokenFor({ sub: 'someone-else', role: 'patient' });
    expect(
      (await query.get(`/v1/appointments/${appointmentId}`, { authorization: `Bearer ${stranger}` })).status,
    ).toBe(403);
    const hospital = await query.get(`/v1/appointments/${appointmentId}`, {
      authorization: `Bearer ${hospitalToken}`,
    });
    expect(hospital.status).toBe(200);
  });

  /** Opens a schedule of a doctor of its own; its body and the checkpoint the command returned. */
  const anOpenedSchedule = async (overrides: Record<string, unknown> = {}) => {
    const doctor = await aDoctor();
    const body = anOpenScheduleRequest(doctor, { period: 'evening', capacity: 3, fee: 0, ...overrides });
    const opened = await commands.http.post('/v1/schedules', {
      token: hospitalToken,
      idempotencyKey: randomUUID(),
      body,
    });
    expect(opened.status).toBe(201);
    const { scheduleId } = opened.body as { scheduleId: string };
    return { doctor, body, scheduleId, checkpoint: opened.headers['booking-checkpoint'] as string };
  };
  /** A checkpoint far beyond the store's head: never issued, so never reached. */
  const forged = (checkpoint: string) => {
    const [xid, pos] = checkpoint.split(':').map(BigInt) as [bigint, bigint];
    return `${xid + 1_000_000n}:${pos + 1_000_000n}`;
  };
  /** A 400 answered without a read-your-writes wait, naming the header. */
  const expectRefusedAtOnce = async (path: string, checkpoint: string) => {
    const t0 = Date.now();
    const res = await query.get(path, { 'booking-checkpoint': checkpoint });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { 'invalid-params': { name: string }[] };
    expect(problem['invalid-params'].map((p) => p.name)).toEqual(['Booking-Checkpoint']);
  };

  it("refuses a checkpoint beyond the event store's head at once (400), and a malformed one", async () => {
    const { doctor, body, checkpoint } = await anOpenedSchedule();
    const path = `/v1/doctors/${doctor.doctorId}/schedules?from=${body.date}&to=${body.date}`;
    await expectRefusedAtOnce(path, forged(checkpoint));
    const malformed = await query.get(path, { 'booking-checkpoint': 'yesterday' });
    expect(malformed.status).toBe(400);
  });

  it("refuses a checkpoint beyond the head on a schedule's slots at once (400)", async () => {
    const { scheduleId, checkpoint } = await anOpenedSchedule();
    await expectRefusedAtOnce(`/v1/schedules/${scheduleId}/slots`, forged(checkpoint));
  });

  it('answers an unknown doctor 404 at once, with a real checkpoint too', async () => {
    const { checkpoint } = await anOpenedSchedule();
    const t0 = Date.now();
    const res = await query.get('/v1/doctors/999999999999/schedules', { 'booking-checkpoint': checkpoint });
    expect(res.status).toBe(404);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('answers with what it has and says so when a real checkpoint is not reached in time; past its share of waits, at once', async () => {
    const mine = await anOpenedSchedule();
    const path = `/v1/doctors/${mine.doctor.doctorId}/schedules?from=${mine.body.date}&to=${mine.body.date}`;
    // Served (200: the doctor known, a 404 carries no stale mark either) and fresh.
    await waitFor(
      async () => {
        const res = await query.get(path, { 'booking-checkpoint': mine.checkpoint });
        return res.status === 200 && res.headers.get('x-data-stale') === null ? true : undefined;
      },
      { timeoutMs: 10_000, what: 'the opened schedule in the read model' },
    );
    // A later write to another doctor's schedule: issued, but this doctor's schedules never reach it.
    const { checkpoint: later } = await anOpenedSchedule();
    const read = async () => {
      const t0 = Date.now();
      const res = await query.get(path, { 'booking-checkpoint': later });
      return { res, elapsed: Date.now() - t0 };
    };
    // One client (one address) may hold QUERY_RYW_WAITS_PER_CLIENT (2 here) waits: the third answers at once.
    const reads = await Promise.all([read(), read(), read()]);
    for (const { res } of reads) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-data-stale')).toBe('checkpoint-not-reached');
      const list = (await res.json()) as { schedules: { scheduleId: string }[] };
      expect(list.schedules).toEqual([expect.objectContaining({ scheduleId: mine.scheduleId })]);
    }
    const elapsed = reads.map((r) => r.elapsed).sort((x, y) => x - y);
    expect(elapsed[0]).toBeLessThan(1000);
    for (const waited of elapsed.slice(1)) {
      expect(waited).toBeGreaterThanOrEqual(1900);
      expect(waited).toBeLessThan(4000);
    }
  });
});
