/**
 * The automatic switch to rush mode (issue 17; docs/adr/0015 §8) against the real engines: with
 * RUSH_AUTO_THRESHOLD_PER_S = 20 (counted in Redis), a burst of 100 bookings on one schedule flips
 * it to rush mode — recorded once as RushModeChanged with reason `auto` — and later bookings are
 * queued (202); 10 bookings on another schedule stay synchronous (201), and it stays out of rush mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleStreamName } from '../../domain/schedule.ts';
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
import { retryLater, sendAsCarefulClient } from '../support/careful-client.ts';
import type { HttpResponse } from '../support/http-client.ts';

const THRESHOLD = 20;
let h: Harness;
let processor: RequestProcessorHandle;

beforeAll(async () => {
  const parsed = parseConfig(process.env);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const config: Config = { ...parsed.config, JWT_SECRET: TEST_SECRET, RUSH_AUTO_THRESHOLD_PER_S: THRESHOLD };
  h = await startCommandApi({ poolSize: 20, maxSockets: 200, config });
  processor = await startRequestProcessor({
    config,
    logger: createLogger('requests-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
    migrate: false,
  });
  await processor.ready;
});

afterAll(async () => {
  await processor?.stop();
  await h?.stop();
});

/** A booking as a careful client sends it: shed (503), timed out (408) or in flight (409) → the same key again. */
async function bookOnce(scheduleId: string, patientId: string, token: string): Promise<HttpResponse> {
  const key = newKey();
  return sendAsCarefulClient(
    () => h.http.post('/v1/appointments', { token, idempotencyKey: key, body: { scheduleId, patientId } }),
    undefined,
    { retryOn: retryLater, maxAttempts: 20 },
  );
}

/** `n` patients book `scheduleId` at once (tokens signed first, so the burst is only the requests). */
async function burst(scheduleId: string, n: number): Promise<{ patient: string; r: HttpResponse }[]> {
  const patients = Array.from({ length: n }, () => randomPatient());
  const tokens = await Promise.all(patients.map((p) => h.tokenFor({ sub: p, role: 'patient' })));
  const responses = await Promise.all(patients.map((p, i) => bookOnce(scheduleId, p, tokens[i]!)));
  return patients.map((patient, i) => ({ patient, r: responses[i]! }));
}

const tally = (rs: readonly HttpResponse[]) => {
  const t: Record<string, number> = {};
  for (const r of rs) t[String(r.status)] = (t[String(r.status)] ?? 0) + 1;
  return t;
};

async function rushEvents(scheduleId: string) {
  const { rows } = await h.pool.query<{ data: Record<string, unknown> }>(
    `SELECT data FROM events WHERE stream_id = $1 AND event_type = 'RushModeChanged'`,
    [scheduleStreamName(scheduleId)],
  );
  return rows.map((r) => r.data);
}

async function finalOf(requestId: string, patient: string): Promise<HttpResponse> {
  const token = await h.tokenFor({ sub: patient, role: 'patient' });
  for (;;) {
    const r = await h.http.get(`/v1/booking-requests/${requestId}?wait=10`, { token });
    if (r.status !== 200 || r.body?.status !== 'queued') return r;
  }
}

describe('automatic switch to rush mode by booking rate', () => {
  it('a burst above the threshold flips the schedule to rush mode once; later bookings are queued', async () => {
    const scheduleId = await openSchedule(h, { capacity: 300 });
    const sent = await burst(scheduleId, 100);
    const statuses = tally(sent.map((s) => s.r));
    console.log(`burst of 100 at threshold ${THRESHOLD}/s: ${JSON.stringify(statuses)}`);
    // Synchronous (201) until the switch, queued (202) — or already decided (200) — after it.
    expect(Object.keys(statuses).filter((s) => !['200', '201', '202'].includes(s))).toEqual([]);
    expect(statuses['201'] ?? 0).toBeGreaterThanOrEqual(THRESHOLD);
    expect((statuses['202'] ?? 0) + (statuses['200'] ?? 0)).toBeGreaterThan(0);
    const events = await rushEvents(scheduleId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      scheduleId,
      enabled: true,
      reason: 'auto',
      changedBy: { id: 'rush-auto-switch', role: 'admin' },
    });

    const [later] = await burst(scheduleId, 1);
    expect(later!.r.status).toBe(202);
    const queued = [...sent.filter((s) => s.r.status === 202), later!];
    const finals = await Promise.all(queued.map((q) => finalOf(String(q.r.body.requestId), q.patient)));
    expect(finals.map((f) => String(f.body?.status))).toEqual(queued.map(() => 'booked'));
    const { rows } = await h.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM events WHERE stream_id = $1 AND event_type = 'AppointmentBooked'`,
      [scheduleStreamName(scheduleId)],
    );
    expect(Number(rows[0]?.n)).toBe(101);
  });

  it('a schedule booked below the threshold stays synchronous', async () => {
    const scheduleId = await openSchedule(h, { capacity: 50 });
    const sent = await burst(scheduleId, THRESHOLD / 2);
    expect(tally(sent.map((s) => s.r))).toEqual({ '201': THRESHOLD / 2 });
    expect(await rushEvents(scheduleId)).toEqual([]);
    const { rows } = await h.pool.query('SELECT 1 FROM rush_schedules WHERE schedule_id = $1', [scheduleId]);
    expect(rows).toEqual([]);
  });
});
