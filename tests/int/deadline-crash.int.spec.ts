/**
 * Kill -9 of the process that fires deadlines (docs/adr/0012 §3). Three command API instances on
 * one database: A (in this process, its poller off) books 30 paid holds on a numbered schedule and
 * fills its waitlist; B (in this process) and C (a child process, `tests/support/command-api-child.ts`)
 * both poll the deadlines, their clocks ahead so the holds fall due while they run. C waits 400 ms
 * between claiming a deadline and firing it, and is killed with SIGKILL while it holds claims; then
 * it is restarted. Checked on the stream's events: every hold expired exactly once, every freed slot
 * was offered once, no slot was ever given to two patients.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandApiDeps } from '../../command-api/app.ts';
import type { Config } from '../../platform/config.ts';
import {
  type Harness,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
} from '../support/command-api-harness.ts';
import { sleep } from '../support/db.ts';
import { waitFor } from '../support/wait.ts';
import { eventsOf, violations } from '../support/slot-stream-checks.ts';

const HOLD_MS = 15 * 60_000;
/** The pollers' clocks: a hold falls due for them 20 s after it was taken (the waitlist is full by then). */
const OFFSET_MS = HOLD_MS - 20_000;
const LEASE_SECONDS = 2;

let a: Harness;
let b: Harness;
const children: Child[] = [];

interface Child {
  pid: number;
  output: () => string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

beforeAll(async () => {
  const asConfig = (c: Partial<Config>) => c as CommandApiDeps['config'];
  a = await startCommandApi({ config: asConfig({ DEADLINE_POLL_MS: 0, HOLD_MINUTES: 15 }) });
  b = await startCommandApi({
    config: asConfig({ DEADLINE_POLL_MS: 50, DEADLINE_LEASE_SECONDS: LEASE_SECONDS }),
  });
  b.clock.now = () => new Date(Date.now() + OFFSET_MS);
});

afterAll(async () => {
  for (const c of children) await c.stop().catch(() => undefined);
  await Promise.all([a?.stop(), b?.stop()]);
});

/** The command API as its own process, polling deadlines every 50 ms with a 2 s lease. */
async function spawnPoller(): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/support/command-api-child.ts'], {
    env: {
      ...process.env,
      // Ports: the child picks free ones (an empty setting means none, as the supervisor passes them).
      PORT: '',
      ADMIN_PORT: '',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      PATIENT_COMMANDS_PER_MINUTE: '0',
      DEADLINE_POLL_MS: '50',
      DEADLINE_LEASE_SECONDS: String(LEASE_SECONDS),
      COMMAND_API_TEST_CLOCK_OFFSET_MS: String(OFFSET_MS),
      COMMAND_API_TEST_BEFORE_FIRE_DELAY_MS: '400',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: Child = {
    pid: child.pid ?? -1,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  children.push(handle);
  await waitFor(
    () => {
      if (out.includes('"command API listening"')) return true;
      if (child.exitCode !== null) throw new Error(`command API child exited early:\n${out}`);
      return undefined;
    },
    { what: 'the command API child listening', timeoutMs: 60_000 },
  );
  return handle;
}

async function post(h: Harness, path: string, patient: string, body: object) {
  return h.http.post(path, {
    token: await h.tokenFor({ sub: patient, role: 'patient' }),
    idempotencyKey: newKey(),
    body,
  });
}

/** Deadlines currently claimed by the process `pid` (claimed_by is host-pid-random). */
async function claimedBy(pid: number, subjects: string[]): Promise<number> {
  const { rows } = await a.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM deadlines WHERE kind = 'hold_expiry' AND subject = ANY($1::text[])
       AND claimed_by LIKE $2 AND claimed_until > now()`,
    [subjects, `%-${pid}-%`],
  );
  return Number(rows[0]?.n ?? 0);
}

describe('kill -9 of the deadline poller', () => {
  it('expires every hold exactly once and gives no slot twice across a SIGKILL and a restart', async () => {
    let c = await spawnPoller();
    const scheduleId = await openSchedule(a, {
      capacity: 30,
      fee: 5000,
      slots: { firstSlotTime: '08:00', intervalMinutes: 7, count: 30 },
    });
    // 30 holds in 6 waves, 250 ms apart: while C sits on one wave's claims (400 ms), B claims the next.
    const holds: string[] = [];
    for (let wave = 0; wave < 6; wave++) {
      const booked = await Promise.all(
        Array.from({ length: 5 }, () => {
          const p = randomPatient();
          return post(a, '/v1/appointments', p, { scheduleId, patientId: p });
        }),
      );
      for (const r of booked) {
        expect(r.status).toBe(201);
        holds.push(String(r.body.appointmentId));
      }
      await sleep(250);
    }
    const waiting = Array.from({ length: 20 }, () => randomPatient());
    const joined = await Promise.all(
      waiting.map((p) => post(a, `/v1/schedules/${scheduleId}/waitlist`, p, { patientId: p })),
    );
    expect(joined.map((r) => r.status)).toEqual(waiting.map(() => 201));

    const expiredCount = async () =>
      (await eventsOf(a.pool, scheduleId)).filter((e) => e.type === 'HoldExpired').length;
    // Mid-way: some holds expired, and C holds claims it has not fired yet.
    await waitFor(
      async () => ((await expiredCount()) >= 5 && (await claimedBy(c.pid, holds)) > 0 ? true : undefined),
      { what: 'C to hold claims after some expiries', timeoutMs: 30_000, intervalMs: 20 },
    );
    await c.kill9();
    const orphaned = await claimedBy(c.pid, holds);
    const expiredAtKill = await expiredCount();
    c = await spawnPoller();

    await waitFor(
      async () => {
        const { rows } = await a.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM deadlines WHERE kind = 'hold_expiry' AND subject = ANY($1::text[])`,
          [holds],
        );
        return Number(rows[0]?.n) === 0 && (await expiredCount()) >= 30 ? true : undefined;
      },
      { what: 'every hold expired after the restart', timeoutMs: 60_000 },
    );
    await sleep(2 * LEASE_SECONDS * 1000); // a late duplicate firing would land here
    await c.stop();

    const events = await eventsOf(a.pool, scheduleId);
    expect(violations(events)).toEqual([]);
    const expired = events.filter((e) => e.type === 'HoldExpired').map((e) => String(e.data.appointmentId));
    expect([...expired].sort()).toEqual([...holds].sort());
    const offers = events.filter((e) => e.type === 'SlotTaken' && e.data.source === 'waitlist');
    expect(offers).toHaveLength(20);
    console.log(
      `[deadline crash] ${expiredAtKill} of 30 holds expired at the kill, ${orphaned} claimed by the killed ` +
        `poller and not fired; after the restart ${expired.length} HoldExpired for 30 holds, ${offers.length} offers`,
    );
    expect(orphaned).toBeGreaterThan(0);
    expect(expiredAtKill).toBeLessThan(30);
  }, 180_000);
});
