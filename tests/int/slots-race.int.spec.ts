/**
 * The race of issue 15 on the real engines: 500 patients for 30 numbered slots with holds, across
 * two command API instances (one database, two queues, two caches, two deadline pollers), with
 * payments, expiries (fired by both pollers) and waitlist offers interleaved. Checked on the
 * stream's events themselves: no slot is ever held or confirmed by two appointments at once, every
 * hold ends at most once (one PaymentConfirmed or one HoldExpired), and every hold whose deadline
 * passed unpaid expired exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleStreamName } from '../../domain/schedule.ts';
import type { HttpResponse } from '../support/http-client.ts';
import {
  type Harness,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
} from '../support/command-api-harness.ts';
import type { CommandApiDeps } from '../../command-api/app.ts';
import type { Config } from '../../platform/config.ts';
import { waitFor } from '../support/wait.ts';
import { eventsOf, type Stored, violations } from '../support/slot-stream-checks.ts';
import { sendAsCarefulClient, type ShedCount } from '../support/careful-client.ts';

let a: Harness;
let b: Harness;
/** Both instances' clocks, moved forward together to make holds due. */
let offsetMs = 0;
const admin = { sub: 'admin-race', role: 'admin' } as const;

beforeAll(async () => {
  // Merged by the harness over the environment's configuration: both pollers fire every 50 ms.
  const config = { DEADLINE_POLL_MS: 50 } satisfies Partial<Config> as CommandApiDeps['config'];
  a = await startCommandApi({ poolSize: 20, maxSockets: 600, config });
  b = await startCommandApi({ poolSize: 20, maxSockets: 600, config });
  for (const h of [a, b]) h.clock.now = () => new Date(Date.now() + offsetMs);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

const label = (r: HttpResponse) =>
  r.status < 300 ? String(r.status) : `${r.status} ${String(r.body?.code)}`;

function tally(responses: HttpResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of responses) counts[label(r)] = (counts[label(r)] ?? 0) + 1;
  return counts;
}

const instance = (i: number) => (i % 2 === 0 ? a : b);

async function post(
  h: Harness,
  path: string,
  principal: { sub: string; role: 'patient' | 'admin' },
  body: object,
) {
  const token = await h.tokenFor(principal);
  const idempotencyKey = newKey();
  // A 503 system_overloaded under the 500-request burst is sent again with its key, as a careful client does.
  return sendAsCarefulClient(() => h.http.post(path, { token, idempotencyKey, body }), shed);
}

/** Requests flow control shed and the test sent again (printed). */
const shed: ShedCount = { n: 0 };

describe('500 patients for 30 slots with holds, across two instances', () => {
  it('never gives one slot to two patients and expires every unpaid hold exactly once', async () => {
    const scheduleId = await openSchedule(a, {
      capacity: 30,
      fee: 5000,
      slots: { firstSlotTime: '08:00', intervalMinutes: 7, count: 30 },
    });
    const { rows: clock } = await a.pool.query<{ t: Date }>('SELECT now() AS t');
    const raceStarted = clock[0]!.t;
    const patients = Array.from({ length: 500 }, () => randomPatient());
    await Promise.all(patients.map((p, i) => instance(i).tokenFor({ sub: p, role: 'patient' })));

    // 1. The rush: every patient books; the losers then join the waitlist (some of them).
    const started = Date.now();
    const booked = await Promise.all(
      patients.map((p, i) =>
        post(instance(i), '/v1/appointments', { sub: p, role: 'patient' }, { scheduleId, patientId: p }),
      ),
    );
    const rush = tally(booked);
    expect(rush['201']).toBe(30);
    expect(booked.filter((r) => r.status >= 500)).toEqual([]);
    const holds = booked.filter((r) => r.status === 201).map((r) => String(r.body.appointmentId));
    const losers = patients.filter((_, i) => booked[i]!.status !== 201).slice(0, 60);
    const joined = await Promise.all(
      losers.map((p, i) =>
        post(
          instance(i),
          `/v1/schedules/${scheduleId}/waitlist`,
          { sub: p, role: 'patient' },
          { patientId: p },
        ),
      ),
    );
    expect(tally(joined)).toEqual({ '201': 60 });

    // 2. Interleaved: a third of the holds are paid before the deadline; then the clock passes it
    //    while another third is being paid (racing the two pollers); the rest expire unpaid.
    const pay = (id: string, i: number) =>
      post(instance(i + 1), `/v1/appointments/${id}/confirm-payment`, admin, {
        paymentRef: `pay-${id}`,
        amount: 5000,
      });
    const early = await Promise.all(holds.slice(0, 10).map(pay));
    expect(tally(early)).toEqual({ '200': 10 });
    offsetMs = 16 * 60_000;
    // Payments and both pollers at once: for each hold, whichever is decided first wins.
    const [racing] = await Promise.all([
      Promise.all(holds.slice(10, 20).map(pay)),
      a.api.deadlines.pollOnce(),
      b.api.deadlines.pollOnce(),
    ]);
    const raced = tally(racing);
    for (const outcome of Object.keys(raced)) expect(['200', '409 hold_expired']).toContain(outcome);

    // 3. Each expiry offered its slot to the next waiting patient (a hold of its own): pay some of
    //    those offers, let the others expire too (offering on), twice.
    for (let round = 0; round < 2; round++) {
      await settled(scheduleId);
      const offers = stillHeld(await eventsOf(a.pool, scheduleId));
      const paid = await Promise.all(offers.slice(0, 5).map(pay));
      expect(tally(paid)).toEqual(paid.length ? { '200': paid.length } : {});
      // The last round's deadlines are B's alone: A's poller stops (as if its process died).
      if (round === 1) await a.api.deadlines.stop();
      offsetMs += 16 * 60_000;
    }
    await settled(scheduleId);
    const elapsed = Date.now() - started;

    const events = await eventsOf(a.pool, scheduleId);
    expect(violations(events)).toEqual([]);
    const count = (type: string) => events.filter((e) => e.type === type).length;
    const expiredIds = events
      .filter((e) => e.type === 'HoldExpired')
      .map((e) => String(e.data.appointmentId));
    expect(new Set(expiredIds).size).toBe(expiredIds.length);
    // Every hold ended at most once (checked above); one still held is the last round's offer,
    // its deadline still ahead and still in the table.
    const taken = events.filter((e) => e.type === 'SlotTaken').map((e) => String(e.data.appointmentId));
    const held = stillHeld(events);
    const { rows: ahead } = await a.pool.query<{ subject: string }>(
      `SELECT subject FROM deadlines WHERE kind = 'hold_expiry' AND subject = ANY($1::text[]) AND due_at > $2`,
      [held, new Date(Date.now() + offsetMs)],
    );
    expect(ahead.map((r) => r.subject).sort()).toEqual([...held].sort());
    expect(
      events.filter((e) => e.type === 'SlotTaken' && e.data.source === 'waitlist').length,
    ).toBeGreaterThan(10);
    // A 200 to the payment side is a PaymentConfirmed; a hold_expired is a HoldExpired.
    const paidIds = new Set(
      events.filter((e) => e.type === 'PaymentConfirmed').map((e) => String(e.data.appointmentId)),
    );
    holds.slice(10, 20).forEach((id, i) => expect(paidIds.has(id)).toBe(racing[i]!.status === 200));
    const fired = async (h: Harness): Promise<Record<string, number>> =>
      Object.fromEntries(
        [
          ...(await h.admin.get('/metrics')).text.matchAll(
            /^deadlines_fired_total\{kind="hold_expiry",outcome="(\w+)"\} (\d+)/gm,
          ),
        ].map((m) => [m[1]!, Number(m[2])]),
      );
    const [firedA, firedB] = [await fired(a), await fired(b)];
    // Every ExpireHold these two pollers decided with an event is one HoldExpired (in any stream:
    // holds left by earlier test files of the run are theirs to fire too), none decided twice.
    const { rows: expiredSince } = await a.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM events WHERE event_type = 'HoldExpired' AND created_at >= $1`,
      [raceStarted],
    );
    expect((firedA.decided ?? 0) + (firedB.decided ?? 0)).toBe(Number(expiredSince[0]!.n));
    expect(firedB.decided).toBeGreaterThan(0);
    console.log(
      `slot race: rush ${JSON.stringify(rush)}; waitlist 60; racing payments ${JSON.stringify(raced)}; ` +
        `${count('SlotTaken')} holds (${count('PaymentConfirmed')} paid, ${count('HoldExpired')} expired once each), ` +
        `${taken.length - 30} waitlist offers; poller A ${JSON.stringify(firedA)}; poller B ${JSON.stringify(firedB)}; ${shed.n} shed and sent again; ${elapsed} ms`,
    );
  });
});

/** Holds neither paid nor expired, in the order they were taken. */
function stillHeld(events: readonly Stored[]): string[] {
  const ended = new Set(
    events
      .filter((e) => e.type === 'PaymentConfirmed' || e.type === 'HoldExpired')
      .map((e) => String(e.data.appointmentId)),
  );
  return events
    .filter((e) => e.type === 'SlotTaken' && !ended.has(String(e.data.appointmentId)))
    .map((e) => String(e.data.appointmentId));
}

/** Until no deadline of the schedule is due any more (both pollers fired everything due). */
async function settled(scheduleId: string): Promise<void> {
  await waitFor(
    async () => {
      const { rows } = await a.pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM deadlines WHERE stream_id = $1 AND due_at <= $2',
        [scheduleStreamName(scheduleId), new Date(Date.now() + offsetMs)],
      );
      return Number(rows[0]?.n) === 0 ? true : undefined;
    },
    { timeoutMs: 30_000, what: 'every due deadline fired' },
  );
}
