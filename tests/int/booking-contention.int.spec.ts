import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleStreamName } from '../../domain/schedule.ts';
import {
  book,
  type Harness,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
} from '../support/command-api-harness.ts';
import type { HttpResponse } from '../support/http-client.ts';
import { sendAsCarefulClient, type ShedCount } from '../support/careful-client.ts';

let h: Harness;

beforeAll(async () => {
  h = await startCommandApi({ poolSize: 20, maxSockets: 1000 });
});

afterAll(async () => {
  await h.stop();
});

function tally(responses: HttpResponse[]) {
  const byOutcome = new Map<string, number>();
  for (const r of responses) {
    const label = r.status === 201 ? '201' : `${r.status} ${String(r.body?.code)}`;
    byOutcome.set(label, (byOutcome.get(label) ?? 0) + 1);
  }
  return Object.fromEntries(byOutcome);
}

/** A booking as a careful client makes it (tests/support/careful-client.ts). */
function bookAsClient(harness: Harness, scheduleId: string, patientId: string, shed: ShedCount) {
  const key = newKey();
  return sendAsCarefulClient(() => book(harness, scheduleId, patientId, key), shed);
}

async function activeBookings(harness: Harness, scheduleId: string) {
  const { rows } = await harness.pool.query<{ booked: string; patients: string }>(
    `SELECT count(*) AS booked, count(DISTINCT data->>'patientRef') AS patients FROM events
     WHERE stream_id = $1 AND event_type = 'AppointmentBooked'`,
    [scheduleStreamName(scheduleId)],
  );
  return { booked: Number(rows[0]?.booked), patients: Number(rows[0]?.patients) };
}

describe('contention on one schedule', () => {
  it('1,000 concurrent bookings for 50 places: exactly 50 booked, 950 schedule_full, no 5xx but shedding', async () => {
    const scheduleId = await openSchedule(h, { capacity: 50 });
    const patients = Array.from({ length: 1000 }, () => randomPatient());
    // Sign every token first so the burst is only booking requests.
    await Promise.all(patients.map((p) => h.tokenFor({ sub: p, role: 'patient' })));

    const started = Date.now();
    const shed = { n: 0 };
    const responses = await Promise.all(patients.map((p) => bookAsClient(h, scheduleId, p, shed)));
    const elapsedMs = Date.now() - started;

    const counts = tally(responses);
    expect(counts).toEqual({ '201': 50, '409 schedule_full': 950 });
    expect(responses.filter((r) => r.status >= 500)).toEqual([]);
    expect(await activeBookings(h, scheduleId)).toEqual({ booked: 50, patients: 50 });
    const winners = new Set(
      responses.filter((r) => r.status === 201).map((r) => String(r.body.appointmentId)),
    );
    expect(winners.size).toBe(50);
    console.log(`1,000 concurrent bookings settled in ${elapsedMs} ms (${shed.n} shed and retried)`);
  });

  it('two API instances (separate queues and caches) never overbook: optimistic concurrency decides', async () => {
    const second = await startCommandApi({ poolSize: 10, maxSockets: 200 });
    try {
      const scheduleId = await openSchedule(h, { capacity: 50 });
      const patients = Array.from({ length: 300 }, () => randomPatient());
      await Promise.all(patients.map((p) => h.tokenFor({ sub: p, role: 'patient' })));
      await Promise.all(patients.map((p) => second.tokenFor({ sub: p, role: 'patient' })));
      const shed = { n: 0 };
      const responses = await Promise.all(
        patients.map((p, i) => bookAsClient(i % 2 === 0 ? h : second, scheduleId, p, shed)),
      );
      const counts = tally(responses);
      expect(responses.filter((r) => r.status >= 500)).toEqual([]);
      expect(counts['201']).toBe(50);
      // A command that keeps losing races takes the stream's lock (ADR 0028): no concurrency_conflict.
      expect(counts).toEqual({ '201': 50, '409 schedule_full': 250 });
      expect(await activeBookings(h, scheduleId)).toEqual({ booked: 50, patients: 50 });
      const metrics = (await second.admin.get('/metrics')).text + (await h.admin.get('/metrics')).text;
      const sum = (name: string) =>
        [...metrics.matchAll(new RegExp(`^${name} (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
      console.log(
        `two instances: ${JSON.stringify(counts)}, ${sum('command_concurrency_retries_total')} optimistic-concurrency retries, ${sum('command_stream_locks_total')} under the stream lock, ${shed.n} shed and retried`,
      );
    } finally {
      await second.stop();
    }
  });

  it('a stale per-process cache never causes a wrong rejection nor an overbooking', async () => {
    const second = await startCommandApi({ poolSize: 4 });
    try {
      const scheduleId = await openSchedule(h, { capacity: 1 });
      const first = await book(h, scheduleId, randomPatient());
      expect(first.status).toBe(201);
      // Instance one now caches "full"; instance two frees the place behind its back.
      expect((await book(h, scheduleId, randomPatient())).status).toBe(409);
      const cancel = await second.http.post(`/v1/appointments/${String(first.body.appointmentId)}/cancel`, {
        // h's hospital: the schedule is of h's catalog institution, not second's.
        token: await second.tokenFor(h.hospital),
        idempotencyKey: randomUUID(),
        body: {},
      });
      expect(cancel.status).toBe(200);
      // A rejection from cached state is re-checked against the stream: the booking goes through.
      expect((await book(h, scheduleId, randomPatient())).status).toBe(201);
      // Instance two's cache is stale the other way round (it thinks there is room): the revision
      // check catches it and the retry on fresh state rejects.
      const stale = await book(second, scheduleId, randomPatient());
      expect(stale.status).toBe(409);
      expect(stale.body.code).toBe('schedule_full');
      expect(await activeBookings(h, scheduleId)).toEqual({ booked: 2, patients: 2 });
    } finally {
      await second.stop();
    }
  });
});
