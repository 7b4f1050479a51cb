/**
 * The notification outbox on the real database (docs/adr/0014): the command API decides, the
 * notifier reads the events by global position into its outbox and sends through the local
 * provider (`notification_messages`), which the tests read. Both clocks are test seams: the
 * notifier's moves forward to make timed notifications due.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandApiDeps } from '../../command-api/app.ts';
import { scheduleStreamName } from '../../domain/schedule.ts';
import { startNotifications, type NotificationsHandle } from '../../notifications/start.ts';
import type { Config } from '../../platform/config.ts';
import { PgLocalProvider } from '../../platform/notify/local-provider.ts';
import type { NotificationProvider, OutgoingNotification } from '../../platform/notify/provider.ts';
import {
  type Harness,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
} from '../support/command-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';
import { hospitalToday } from '../support/catalog-mother.ts';
import { addDays } from '../../domain/session-time.ts';

let h: Harness;
let n: NotificationsHandle;
let notifierOffsetMs = 0;
let apiOffsetMs = 0;
const notifierName = uniqueName('test-notifier');
/** The next send with this key ('<kind>:…' of an appointment) fails after the provider recorded it. */
const failAfterRecording = new Set<string>();
const admin = { sub: 'admin-notify', role: 'admin' } as const;

beforeAll(async () => {
  h = await startCommandApi({
    config: { DEADLINE_POLL_MS: 0 } satisfies Partial<Config> as CommandApiDeps['config'],
  });
  h.clock.now = () => new Date(Date.now() + apiOffsetMs);
  const local = new PgLocalProvider(h.pool);
  // A provider that accepts a message and then loses the answer (a crash, a timeout): the
  // notifier must retry with the same key, and the patient must still get it once.
  const flaky: NotificationProvider = {
    name: 'local',
    async send(m: OutgoingNotification) {
      const receipt = await local.send(m);
      if (failAfterRecording.delete(`${m.kind}:${String(m.data.appointmentId)}`))
        throw new Error('connection reset');
      return receipt;
    },
  };
  n = await startNotifications(
    {
      ...testConfig(),
      NOTIFIER_NAME: notifierName,
      NOTIFY_START: 'end',
      NOTIFY_POLL_MS: 0,
      NOTIFY_RETRY_BASE_MS: 1,
      NOTIFY_HOLD_REMINDER_MINUTES: 5,
    },
    {
      pool: h.pool,
      migrate: false,
      port: 0,
      adminPort: 0,
      provider: flaky,
      clock: () => new Date(Date.now() + notifierOffsetMs),
    },
  );
});

afterAll(async () => {
  await n?.stop();
  await h?.stop();
});

interface Message {
  kind: string;
  recipient: string;
  body: string;
  received: number;
  data: Record<string, unknown>;
}

async function messagesTo(patientId: string): Promise<Message[]> {
  const { rows } = await h.pool.query<Message>(
    'SELECT kind, recipient, body, received, data FROM notification_messages WHERE recipient = $1 ORDER BY sent_at',
    [patientId],
  );
  return rows;
}

async function post(
  path: string,
  principal: { sub: string; role: 'patient' | 'admin' | 'hospital'; institutionId?: string },
  body: object,
) {
  const r = await h.http.post(path, { token: await h.tokenFor(principal), idempotencyKey: newKey(), body });
  if (r.status >= 300) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

async function bookAs(patientId: string, scheduleId: string): Promise<string> {
  const r = await post('/v1/appointments', { sub: patientId, role: 'patient' }, { scheduleId, patientId });
  return String(r.body.appointmentId);
}

async function slotTaken(scheduleId: string, appointmentId: string) {
  const { rows } = await h.pool.query<{ data: { slotStartsAt: string; holdExpiresAt: string | null } }>(
    `SELECT data FROM events WHERE stream_id = $1 AND event_type = 'SlotTaken' AND data->>'appointmentId' = $2`,
    [scheduleStreamName(scheduleId), appointmentId],
  );
  return rows[0]!.data;
}

const numbered = (count: number, fee: number) => ({
  capacity: count,
  fee,
  slots: { firstSlotTime: '08:00', intervalMinutes: 10, count },
});

describe('notifications', () => {
  it('a hold: its reminder before the deadline, the confirmation once paid, the reminder the day before', async () => {
    // 45 days ahead (no other schedule of this file's doctor there): the day-before
    // reminder is far from every other notification of the test.
    const date = addDays(hospitalToday(), 45);
    const scheduleId = await openSchedule(h, { ...numbered(5, 5000), date });
    const p = randomPatient();
    const id = await bookAs(p, scheduleId);
    await settle();
    expect(await messagesTo(p)).toEqual([]); // the reminder is due 5 minutes before the deadline

    notifierOffsetMs = 11 * 60_000;
    await settle();
    const reminded = await messagesTo(p);
    expect(reminded.map((m) => m.kind)).toEqual(['hold_reminder']);
    expect(reminded[0]!.data).toMatchObject({ appointmentId: id, slot: 1 });

    failAfterRecording.add(`confirmation:${id}`); // the confirmation's first send loses its answer
    await post(`/v1/appointments/${id}/confirm-payment`, admin, { paymentRef: `pay-${id}`, amount: 5000 });
    await settle();
    await new Promise((r) => setTimeout(r, 20)); // past the retry's 1 ms backoff
    await settle();
    expect((await messagesTo(p)).map((m) => m.kind)).toEqual(['hold_reminder', 'confirmation']);
    notifierOffsetMs = await dayBeforeOffset(scheduleId, id);
    await settle();
    await settle(); // nothing new: each notification went once

    const all = await messagesTo(p);
    expect(all.map((m) => m.kind)).toEqual(['hold_reminder', 'confirmation', 'day_before']);
    expect(all.map((m) => m.received)).toEqual([1, 2, 1]); // the retried one reached the provider twice, one message
    expect(all[2]!.body).toContain('tomorrow');
    const { rows } = await h.pool.query<{ kind: string; status: string; attempts: number }>(
      'SELECT kind, status, attempts FROM notifications WHERE appointment_id = $1 ORDER BY created_at, kind',
      [id],
    );
    expect(
      rows
        .filter((r) => r.status === 'sent')
        .map((r) => [r.kind, r.attempts])
        .sort(),
    ).toEqual([
      ['confirmation', 2],
      ['day_before', 1],
      ['hold_reminder', 1],
    ]);
    const metrics = await n.registry.metrics();
    expect(metrics).toMatch(/notifications_retries_total\{kind="confirmation"\} 1/);
    expect(metrics).toMatch(/notifications_sent_total\{kind="day_before"\} [1-9]/);
    notifierOffsetMs = 0;
  });

  it('an expired hold: no reminder for it; the slot is offered to the waitlist and that patient hears of it', async () => {
    const scheduleId = await openSchedule(h, numbered(1, 5000));
    const holder = randomPatient();
    const waiting = randomPatient();
    const hold = await bookAs(holder, scheduleId);
    await post(
      `/v1/schedules/${scheduleId}/waitlist`,
      { sub: waiting, role: 'patient' },
      { patientId: waiting },
    );
    apiOffsetMs = 16 * 60_000;
    await h.api.deadlines.pollOnce();
    apiOffsetMs = 0;
    notifierOffsetMs = 16 * 60_000;
    await settle();
    notifierOffsetMs = 0;

    expect(await messagesTo(holder)).toEqual([]); // its reminder was dropped when the hold expired
    const offered = await messagesTo(waiting);
    expect(offered.map((m) => m.kind)).toEqual(['waitlist_offer']);
    expect(offered[0]!.body).toContain('waitlist');
    const { rows } = await h.pool.query<{ status: string; last_error: string }>(
      `SELECT status, last_error FROM notifications WHERE appointment_id = $1 AND kind = 'hold_reminder'`,
      [hold],
    );
    // Skipped, never sent, either way: dropped by the planner when it applies the expiry
    // (`expired`), or by the sender finding the hold over first (`hold_over`), whichever runs first.
    expect(rows).toEqual([{ status: 'skipped', last_error: expect.stringMatching(/^(expired|hold_over)$/) }]);
  });

  it('a cancellation by the hospital reaches the patient; their own does not; reminders go with it', async () => {
    const scheduleId = await openSchedule(h, numbered(3, 0));
    const [a, b] = [randomPatient(), randomPatient()];
    const [ida, idb] = [await bookAs(a, scheduleId), await bookAs(b, scheduleId)];
    await post(`/v1/appointments/${ida}/cancel`, h.hospital, { reason: 'the doctor is away' });
    await post(`/v1/appointments/${idb}/cancel`, { sub: b, role: 'patient' }, {});
    notifierOffsetMs = await dayBeforeOffset(scheduleId, idb); // both day-before reminders due (b: the later slot)
    await settle();
    notifierOffsetMs = 0;
    expect((await messagesTo(a)).map((m) => m.kind).sort()).toEqual([
      'cancelled_by_hospital',
      'confirmation',
    ]);
    expect((await messagesTo(b)).map((m) => m.kind)).toEqual(['confirmation']);
  });

  it('a forgotten patient gets nothing, not even what was planned before', async () => {
    const scheduleId = await openSchedule(h, numbered(2, 0));
    const p = randomPatient();
    const id = await bookAs(p, scheduleId);
    await settle(); // the confirmation went; the day-before reminder waits
    await post(`/v1/patients/${p}/forget`, admin, {});
    notifierOffsetMs = await dayBeforeOffset(scheduleId, id);
    await settle();
    notifierOffsetMs = 0;
    expect((await messagesTo(p)).map((m) => m.kind)).toEqual(['confirmation']);
    const { rows } = await h.pool.query<{ kind: string; status: string; last_error: string | null }>(
      'SELECT kind, status, last_error FROM notifications WHERE appointment_id = $1 ORDER BY kind',
      [id],
    );
    expect(rows).toEqual([
      { kind: 'confirmation', status: 'sent', last_error: null },
      { kind: 'day_before', status: 'skipped', last_error: 'forgotten' },
    ]);
    const contacts = await h.pool.query('SELECT 1 FROM notification_contacts WHERE appointment_id = $1', [
      id,
    ]);
    expect(contacts.rowCount).toBe(0);
  });

  it('serves health and metrics like the other workers', async () => {
    const health = await fetch(`http://127.0.0.1:${n.port}/readyz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`${n.adminUrl!}/metrics`)).text();
    for (const name of [
      'notifications_lag_seconds',
      'notifications_events_behind',
      'notifications_sent_total',
    ])
      expect(metrics).toContain(name);
    expect(metrics).toMatch(/^notifications_events_behind \d+$/m);
  });

  it('replaying the events (a lost checkpoint) and two notifiers at once send nothing twice', async () => {
    const { rows: before } = await h.pool.query<{ checkpoint: string }>(
      'SELECT checkpoint FROM notifier_checkpoints WHERE name = $1',
      [notifierName],
    );
    expect(before).toHaveLength(1);
    const scheduleId = await openSchedule(h, numbered(10, 0));
    const patients = Array.from({ length: 10 }, () => randomPatient());
    for (const p of patients) await bookAs(p, scheduleId);
    // A second notifier on the same checkpoint and outbox, both draining at once.
    const second = await startNotifications(
      { ...testConfig(), NOTIFIER_NAME: notifierName, NOTIFY_POLL_MS: 0 },
      { pool: h.pool, migrate: false, port: null },
    );
    await Promise.all([settle(), second.drain(), n.drain(), second.drain()]);
    // The checkpoint lost: the events are read and planned again.
    await h.pool.query('UPDATE notifier_checkpoints SET checkpoint = $2 WHERE name = $1', [
      notifierName,
      before[0]!.checkpoint,
    ]);
    await Promise.all([settle(), second.drain()]);
    await second.stop();
    for (const p of patients) {
      const got = await messagesTo(p);
      expect(got.map((m) => [m.kind, m.received])).toEqual([['confirmation', 1]]);
    }
  });
});

/** The notifier's clock offset that puts it a minute past the appointment's day-before reminder. */
async function dayBeforeOffset(scheduleId: string, appointmentId: string): Promise<number> {
  const { slotStartsAt } = await slotTaken(scheduleId, appointmentId);
  return new Date(slotStartsAt).getTime() - 24 * 3_600_000 - Date.now() + 60_000;
}

/**
 * Drains until the notifier has read every event committed before the call: readAll (ADR 0002)
 * holds an event back while an older transaction anywhere in the cluster still runs, so one drain
 * right after a command may not see it yet.
 */
async function settle(): Promise<void> {
  const { rows } = await h.pool.query<{ xid: string; pos: string }>(
    `SELECT transaction_id::text AS xid, global_position::text AS pos FROM events
     ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
  );
  const head = rows[0];
  await waitFor(
    async () => {
      await n.drain();
      if (!head) return true;
      const { rows: behind } = await h.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM notifier_checkpoints
         WHERE name = $1 AND CASE WHEN checkpoint = '' THEN true
           ELSE (split_part(checkpoint, ':', 1)::xid8, split_part(checkpoint, ':', 2)::bigint) < ($2::xid8, $3::bigint) END`,
        [notifierName, head.xid, head.pos],
      );
      return Number(behind[0]?.n) === 0 ? true : undefined;
    },
    { what: 'the notifier to read every committed event', timeoutMs: 20_000, intervalMs: 50 },
  );
}
