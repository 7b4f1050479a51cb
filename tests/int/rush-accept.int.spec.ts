/**
 * The accept path of rush-mode bookings (docs/adr/0015 §10, §11) against the real engines:
 *  - a hospital's queued booking is in the audit trail as the synchronous path records it, from
 *    the moment it is accepted; a patient's own is not (as on the other path);
 *  - Kafka unreachable (this test's own API instance points its producer at a closed port): 503,
 *    and no request row is left behind; the released key books once Kafka answers;
 *  - requests a crashed instance left `pending` are removed by the processor's sweeper past
 *    RUSH_PENDING_EXPIRE_S, younger ones are not.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../platform/config.ts';
import { createLogger } from '../../platform/logger.ts';
import { startRequestProcessor, type RequestProcessorHandle } from '../../requests/start.ts';
import {
  type Harness,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
  TEST_SECRET,
} from '../support/command-api-harness.ts';
import type { HttpResponse } from '../support/http-client.ts';

let h: Harness;
let config: Config;
let processor: RequestProcessorHandle;

beforeAll(async () => {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  config = { ...parsed.config, JWT_SECRET: TEST_SECRET };
  h = await startCommandApi({ poolSize: 10, config });
  processor = await startRequestProcessor({
    config,
    logger: createLogger('requests-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
    migrate: false,
    sweepIntervalMs: 0,
  });
  await processor.ready;
});

afterAll(async () => {
  await processor?.stop();
  await h?.stop();
});

const rushOn = async (scheduleId: string) => {
  const r = await h.http.post(`/v1/schedules/${scheduleId}/rush`, {
    token: await h.tokenFor(h.hospital),
    idempotencyKey: newKey(),
    body: { enabled: true },
  });
  expect(r.status).toBe(200);
};

const finalOf = async (requestId: string, token: string): Promise<HttpResponse> => {
  for (;;) {
    const r = await h.http.get(`/v1/booking-requests/${requestId}?wait=10`, { token });
    if (r.status !== 200 || r.body?.status !== 'queued') return r;
  }
};

interface AuditRow {
  actor_role: string;
  actor_id: string;
  actor_institution: string | null;
  action: string;
  outcome: string;
  subject_type: string;
  subject_id: string;
  detail: Record<string, unknown>;
}

const auditOf = async (subjectId: string) =>
  (
    await h.pool.query<AuditRow>(
      `SELECT actor_role, actor_id, actor_institution, action, outcome, subject_type, subject_id, detail
         FROM audit_log WHERE subject_id = $1`,
      [subjectId],
    )
  ).rows;

describe('audit of queued bookings', () => {
  it("records a hospital's queued booking as the synchronous path records one, when it is accepted; not a patient's", async () => {
    const hospital = await h.tokenFor(h.hospital);
    const plain = await openSchedule(h, { capacity: 5 });
    const sync = await h.http.post('/v1/appointments', {
      token: hospital,
      idempotencyKey: newKey(),
      body: { scheduleId: plain, patientId: randomPatient() },
    });
    expect(sync.status).toBe(201);
    const [syncEntry] = await auditOf(String(sync.body.appointmentId));

    const rushed = await openSchedule(h, { capacity: 5 });
    await rushOn(rushed);
    const queued = await h.http.post('/v1/appointments', {
      token: hospital,
      idempotencyKey: newKey(),
      body: { scheduleId: rushed, patientId: randomPatient() },
    });
    expect(queued.status).toBe(202);
    const requestId = String(queued.body.requestId);
    const { rows } = await h.pool.query<{ appointment_id: string }>(
      'SELECT appointment_id FROM booking_requests WHERE request_id = $1',
      [requestId],
    );
    const appointmentId = rows[0]!.appointment_id;
    // In the trail with the acceptance, before the processor decided anything.
    const entries = await auditOf(appointmentId);
    expect(entries).toEqual([
      {
        ...syncEntry!,
        subject_id: appointmentId,
        detail: { scheduleId: rushed, requestId, queued: true },
      },
    ]);
    expect(syncEntry).toMatchObject({
      actor_role: 'hospital',
      actor_id: h.hospital.sub,
      actor_institution: h.hospital.institutionId,
      action: 'appointment.book',
      outcome: 'allowed',
      subject_type: 'appointment',
      detail: { scheduleId: plain },
    });
    expect((await finalOf(requestId, hospital)).body).toMatchObject({ status: 'booked', appointmentId });

    const patient = randomPatient();
    const own = await h.http.post('/v1/appointments', {
      token: await h.tokenFor({ sub: patient, role: 'patient' }),
      idempotencyKey: newKey(),
      body: { scheduleId: rushed, patientId: patient },
    });
    // 202, or 200 when the processor decided it before the accept path completed the key: its
    // final answer then stands (markQueued in rush-booking.ts). Both name the request.
    expect([200, 202], own.text).toContain(own.status);
    const { rows: ownRows } = await h.pool.query<{ appointment_id: string }>(
      'SELECT appointment_id FROM booking_requests WHERE request_id = $1',
      [String(own.body.requestId)],
    );
    expect(await auditOf(ownRows[0]!.appointment_id)).toEqual([]);
  });
});

describe('requests Kafka never acknowledged', () => {
  it('Kafka unreachable: 503 and no request row left; the released key books once Kafka answers', async () => {
    const down = await startCommandApi({
      poolSize: 4,
      config: { ...config, KAFKA_BROKERS: ['127.0.0.1:1'], RUSH_PRODUCE_TIMEOUT_MS: 500 },
    });
    try {
      const scheduleId = await openSchedule(h, { capacity: 5 });
      await rushOn(scheduleId);
      const patient = randomPatient();
      const token = await h.tokenFor({ sub: patient, role: 'patient' });
      const key = newKey();
      const book = (api: Harness) =>
        api.http.post('/v1/appointments', {
          token,
          idempotencyKey: key,
          body: { scheduleId, patientId: patient },
        });
      for (let i = 0; i < 2; i++) {
        const refused = await book(down);
        expect(refused.status).toBe(503);
        expect(refused.headers['retry-after']).toBe('2');
      }
      const left = await h.pool.query('SELECT status FROM booking_requests WHERE schedule_id = $1', [
        scheduleId,
      ]);
      expect(left.rows).toEqual([]);

      const accepted = await book(h);
      expect(accepted.status).toBe(202);
      expect((await finalOf(String(accepted.body.requestId), token)).body.status).toBe('booked');
    } finally {
      await down.stop();
    }
  });

  it('the sweeper removes requests a crashed instance left pending past RUSH_PENDING_EXPIRE_S, not younger ones', async () => {
    const insert = (ageSeconds: number) =>
      h.pool
        .query<{ request_id: string }>(
          `INSERT INTO booking_requests
             (request_id, appointment_id, schedule_id, principal, idem_key, key_created_at, patient_ref, status, created_at)
           VALUES ($1, $2, $3, $4, $5, now(), $6, 'pending', now() - make_interval(secs => $7))
           RETURNING request_id`,
          [
            randomUUID(),
            randomUUID(),
            `s-${randomUUID()}`,
            `p-${randomUUID()}`,
            newKey(),
            `pr-${randomUUID()}`,
            ageSeconds,
          ],
        )
        .then((r) => r.rows[0]!.request_id);
    const stale = await insert(config.RUSH_PENDING_EXPIRE_S + 60);
    const young = await insert(5);
    try {
      expect(await processor.sweepNow()).toBeGreaterThanOrEqual(1);
      const { rows } = await h.pool.query<{ request_id: string }>(
        'SELECT request_id FROM booking_requests WHERE request_id = ANY($1::uuid[])',
        [[stale, young]],
      );
      expect(rows.map((r) => r.request_id)).toEqual([young]);
      const metrics = await processor.registry.getSingleMetricAsString(
        'booking_requests_pending_removed_total',
      );
      expect(metrics).toMatch(/booking_requests_pending_removed_total [1-9]/);
    } finally {
      await h.pool.query('DELETE FROM booking_requests WHERE request_id = ANY($1::uuid[])', [[stale, young]]);
    }
  });
});
