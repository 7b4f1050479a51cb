import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scheduleStreamName } from '../../domain/schedule.ts';
import { DEFAULT_LEASE_SECONDS, requestFingerprint } from '../../platform/http/idempotency.ts';
import {
  book,
  type Harness,
  newKey,
  openSchedule,
  randomPatient,
  startCommandApi,
} from '../support/command-api-harness.ts';
import { sleep } from '../support/db.ts';

const LEASE_SECONDS = 1;

let h: Harness;

beforeAll(async () => {
  h = await startCommandApi({ idempotencyLeaseSeconds: LEASE_SECONDS });
});

afterAll(async () => {
  await h.stop();
});

afterEach(() => {
  h.hooks.beforeCommit = undefined;
  h.hooks.afterCommit = undefined;
});

async function bookingsOf(scheduleId: string, patientId: string): Promise<string[]> {
  const { rows } = await h.pool.query<{ appointment_id: string }>(
    // Events name the patient by reference (docs/adr/0010): patient_keys maps the id to it.
    `SELECT e.data->>'appointmentId' AS appointment_id FROM events e
     JOIN patient_keys k ON k.patient_ref::text = e.data->>'patientRef'
     WHERE e.stream_id = $1 AND e.event_type = 'AppointmentBooked' AND k.patient_id = $2`,
    [scheduleStreamName(scheduleId), patientId],
  );
  return rows.map((r) => r.appointment_id);
}

/** The stored principal of a patient's keys (role, tenant, the digest of the subject). */
const patientScope = (patientId: string): string => h.scopeOf({ sub: patientId, role: 'patient' });

async function keyRow(patientId: string, key: string) {
  const { rows } = await h.pool.query<{ status: string }>(
    'SELECT status FROM idempotency_keys WHERE principal = $1 AND idem_key = $2',
    [patientScope(patientId), key],
  );
  return rows[0];
}

const STORED_HEADERS = ['content-type', 'location', 'booking-checkpoint'] as const;

describe('Idempotency-Key', () => {
  it('is required on every POST (400), and must be well-formed', async () => {
    const patientId = randomPatient();
    const token = await h.tokenFor({ sub: patientId, role: 'patient' });
    const scheduleId = await openSchedule(h);
    const missing = await h.http.post('/v1/appointments', { token, body: { scheduleId, patientId } });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('idempotency_key_missing');
    const tooLong = await h.http.post('/v1/appointments', {
      token,
      idempotencyKey: 'k'.repeat(300),
      body: { scheduleId, patientId },
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.code).toBe('idempotency_key_invalid');
    // The draft's structured-field string form is accepted and means the same key as the bare form.
    const quoted = await h.http.post('/v1/appointments', {
      token,
      headers: { 'idempotency-key': '"abc-123"' },
      body: { scheduleId, patientId },
    });
    expect(quoted.status).toBe(201);
    const bare = await h.http.post('/v1/appointments', {
      token,
      idempotencyKey: 'abc-123',
      body: { scheduleId, patientId },
    });
    expect(bare.status).toBe(201);
    expect(bare.headers['idempotent-replayed']).toBe('true');
  });

  it('replays the first response exactly for the same key and payload', async () => {
    const scheduleId = await openSchedule(h);
    const patientId = randomPatient();
    const key = newKey();
    const first = await book(h, scheduleId, patientId, key);
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const token = await h.tokenFor({ sub: patientId, role: 'patient' });
    // Same payload with keys in another order: the same request.
    const second = await h.http.post('/v1/appointments', {
      token,
      idempotencyKey: key,
      rawBody: JSON.stringify({ patientId, scheduleId }),
      headers: { 'content-type': 'application/json' },
    });
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.text).toBe(first.text);
    for (const name of STORED_HEADERS) expect(second.headers[name], name).toBe(first.headers[name]);
    expect(await bookingsOf(scheduleId, patientId)).toEqual([first.body.appointmentId]);
  });

  it('422 for the same key with a different payload', async () => {
    const patientId = randomPatient();
    const key = newKey();
    const a = await openSchedule(h);
    const b = await openSchedule(h);
    expect((await book(h, a, patientId, key)).status).toBe(201);
    const reused = await book(h, b, patientId, key);
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');
    expect(await bookingsOf(b, patientId)).toEqual([]);
    // Same body on another path is a different request too.
    expect(requestFingerprint('POST', '/v1/a', { x: 1 })).not.toBe(
      requestFingerprint('POST', '/v1/b', { x: 1 }),
    );
  });

  it('409 while the first request with the key is still in flight, then replays', async () => {
    const scheduleId = await openSchedule(h);
    const patientId = randomPatient();
    const key = newKey();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    h.hooks.beforeCommit = async () => {
      entered();
      await gate;
    };
    const first = book(h, scheduleId, patientId, key);
    await inside;
    h.hooks.beforeCommit = undefined;
    const concurrent = await book(h, scheduleId, patientId, key);
    expect(concurrent.status).toBe(409);
    expect(concurrent.body.code).toBe('idempotency_key_in_flight');
    expect(concurrent.headers['retry-after']).toBe('1');
    release();
    const done = await first;
    expect(done.status).toBe(201);
    const later = await book(h, scheduleId, patientId, key);
    expect(later.status).toBe(201);
    expect(later.text).toBe(done.text);
    expect(later.headers['idempotent-replayed']).toBe('true');
    expect(await bookingsOf(scheduleId, patientId)).toHaveLength(1);
  });

  it('scopes keys per principal: two patients may use the same key', async () => {
    const scheduleId = await openSchedule(h);
    const key = newKey();
    const a = await book(h, scheduleId, randomPatient(), key);
    const b = await book(h, scheduleId, randomPatient(), key);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.body.appointmentId).not.toBe(a.body.appointmentId);
  });

  it("scopes keys by role and tenant too: an admin whose sub equals a hospital's does not get its replay", async () => {
    const scheduleId = await openSchedule(h);
    const key = newKey();
    const sub = `shared-sub-${newKey()}`;
    const body = { capacity: 7 };
    const asHospital = await h.http.post(`/v1/schedules/${scheduleId}/capacity`, {
      // A hospital of the schedule's institution (tenancy), so the command itself is allowed.
      token: await h.tokenFor({ sub, role: 'hospital', institutionId: h.catalog.institutionId }),
      idempotencyKey: key,
      body,
    });
    expect(asHospital.status).toBe(200);
    const asAdmin = await h.http.post(`/v1/schedules/${scheduleId}/capacity`, {
      token: await h.tokenFor({ sub, role: 'admin' }),
      idempotencyKey: key,
      body,
    });
    expect(asAdmin.headers['idempotent-replayed']).toBeUndefined();
    const { rows } = await h.pool.query<{ principal: string }>(
      'SELECT principal FROM idempotency_keys WHERE idem_key = $1 ORDER BY principal',
      [key],
    );
    expect(rows.map((r) => r.principal)).toEqual([
      `admin:-:${sub}`,
      `hospital:${h.catalog.institutionId}:${sub}`,
    ]);
  });

  it('replays a business-rule rejection too, even after the rule would pass', async () => {
    const scheduleId = await openSchedule(h, { capacity: 1 });
    await book(h, scheduleId, randomPatient());
    const patientId = randomPatient();
    const key = newKey();
    const full = await book(h, scheduleId, patientId, key);
    expect(full.status).toBe(409);
    expect(full.body.code).toBe('schedule_full');
    const raise = await h.http.post(`/v1/schedules/${scheduleId}/capacity`, {
      token: await h.tokenFor(h.hospital),
      idempotencyKey: newKey(),
      body: { capacity: 2 },
    });
    expect(raise.status).toBe(200);
    const retried = await book(h, scheduleId, patientId, key);
    expect(retried.status).toBe(409);
    expect(retried.headers['idempotent-replayed']).toBe('true');
    expect({ ...retried.body, traceId: undefined }).toEqual({ ...full.body, traceId: undefined });
    // A new key is a new request.
    expect((await book(h, scheduleId, patientId)).status).toBe(201);
  });

  it('does not store validation failures: the key stays usable', async () => {
    const scheduleId = await openSchedule(h);
    const patientId = randomPatient();
    const token = await h.tokenFor({ sub: patientId, role: 'patient' });
    const key = newKey();
    const invalid = await h.http.post('/v1/appointments', {
      token,
      idempotencyKey: key,
      body: { scheduleId: 'not-a-uuid', patientId },
    });
    expect(invalid.status).toBe(400);
    expect(await keyRow(patientId, key)).toBeUndefined();
    expect((await book(h, scheduleId, patientId, key)).status).toBe(201);
  });
});

describe('crash safety', () => {
  it('a crash after commit, before the response: the retry returns the original result, one booking', async () => {
    const scheduleId = await openSchedule(h);
    const patientId = randomPatient();
    const key = newKey();
    let committed: { status: number; body: string } | undefined;
    h.hooks.afterCommit = ({ res, outcome }) => {
      committed = { status: outcome.status, body: outcome.body };
      res.socket?.destroy();
      throw new Error('simulated crash after commit');
    };
    await expect(book(h, scheduleId, patientId, key)).rejects.toThrow(/socket hang up|ECONNRESET/);
    h.hooks.afterCommit = undefined;
    expect(committed).toBeDefined();

    const retry = await book(h, scheduleId, patientId, key);
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.text).toBe(committed!.body);
    const appointmentId = JSON.parse(committed!.body).appointmentId as string;
    expect(await bookingsOf(scheduleId, patientId)).toEqual([appointmentId]);
    const indexed = await h.pool.query('SELECT 1 FROM appointment_index WHERE appointment_id = $1', [
      appointmentId,
    ]);
    expect(indexed.rowCount).toBe(1);
  });

  it('a failure before commit: no booking, the key is freed and the retry books once', async () => {
    const scheduleId = await openSchedule(h);
    const patientId = randomPatient();
    const key = newKey();
    h.hooks.beforeCommit = () => {
      throw new Error('simulated crash before commit');
    };
    const failed = await book(h, scheduleId, patientId, key);
    expect(failed.status).toBe(500);
    expect(failed.body.code).toBe('internal');
    expect(failed.text).not.toMatch(/simulated|\.ts:\d+/);
    h.hooks.beforeCommit = undefined;
    expect(await bookingsOf(scheduleId, patientId)).toEqual([]);
    expect(await keyRow(patientId, key)).toBeUndefined();

    const retry = await book(h, scheduleId, patientId, key);
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(await bookingsOf(scheduleId, patientId)).toEqual([retry.body.appointmentId]);
  });

  it('a claim taken over before commit: the completion fails and nothing of the booking commits (event, index row)', async () => {
    const scheduleId = await openSchedule(h);
    const patientId = randomPatient();
    const key = newKey();
    h.hooks.beforeCommit = async () => {
      // Another process takes the key over (as after a lapsed lease) while this command runs.
      await h.pool.query(
        'UPDATE idempotency_keys SET lease_token = gen_random_uuid() WHERE principal = $1 AND idem_key = $2',
        [patientScope(patientId), key],
      );
    };
    const lost = await book(h, scheduleId, patientId, key);
    h.hooks.beforeCommit = undefined;
    expect(lost.status).toBe(409);
    expect(lost.body.code).toBe('idempotency_key_in_flight');
    expect(await bookingsOf(scheduleId, patientId)).toEqual([]);
    const { rows } = await h.pool.query('SELECT 1 FROM appointment_index WHERE schedule_id = $1', [
      scheduleId,
    ]);
    expect(rows).toEqual([]);
    expect(await keyRow(patientId, key)).toMatchObject({ status: 'in_flight' });
  });

  it('a live owner slower than the lease keeps its claim (renewed): the retry waits, then replays', async () => {
    const scheduleId = await openSchedule(h);
    const patientId = randomPatient();
    const key = newKey();
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    h.hooks.beforeCommit = async () => {
      entered();
      await sleep(LEASE_SECONDS * 1000 * 2.5);
    };
    const first = book(h, scheduleId, patientId, key);
    await inside;
    h.hooks.beforeCommit = undefined;
    await sleep(LEASE_SECONDS * 1000 * 1.5);
    const retry = await book(h, scheduleId, patientId, key);
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe('idempotency_key_in_flight');
    expect((await first).status).toBe(201);
    const replay = await book(h, scheduleId, patientId, key);
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await bookingsOf(scheduleId, patientId)).toHaveLength(1);
  });

  it('a process that died before commit leaves an in-flight claim: 409 until the lease lapses, then taken over', async () => {
    const scheduleId = await openSchedule(h);
    const patientId = randomPatient();
    const key = newKey();
    const body = { scheduleId, patientId };
    // Exactly what a process leaves behind when it dies between the claim and the commit.
    const claim = await h.api.idempotency.claim(
      patientScope(patientId),
      key,
      requestFingerprint('POST', '/v1/appointments', body),
    );
    expect(claim.kind).toBe('claimed');

    const early = await book(h, scheduleId, patientId, key);
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('idempotency_key_in_flight');

    await sleep(LEASE_SECONDS * 1000 + 300);
    const takeover = await book(h, scheduleId, patientId, key);
    expect(takeover.status).toBe(201);
    expect(await bookingsOf(scheduleId, patientId)).toEqual([takeover.body.appointmentId]);

    // The dead owner's token can no longer complete the key.
    if (claim.kind !== 'claimed') throw new Error('unreachable');
    await expect(
      h.api.idempotency.complete(h.pool, patientScope(patientId), key, claim.token, {
        kind: 'response',
        status: 201,
        headers: {},
        body: '{}',
      }),
    ).rejects.toThrow();
  });
});

describe('expiry', () => {
  it('an expired key is purged on read and the key can be used afresh', async () => {
    const patientId = randomPatient();
    const key = newKey();
    const a = await openSchedule(h);
    const b = await openSchedule(h);
    expect((await book(h, a, patientId, key)).status).toBe(201);
    await h.pool.query(
      "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE principal = $1 AND idem_key = $2",
      [patientScope(patientId), key],
    );
    const reused = await book(h, b, patientId, key);
    expect(reused.status).toBe(201);
    expect(reused.headers['idempotent-replayed']).toBeUndefined();
  });

  it('keeps keys for at least IDEMPOTENCY_TTL_HOURS and the periodic purge removes expired ones', async () => {
    const patientId = randomPatient();
    const key = newKey();
    await book(h, await openSchedule(h), patientId, key);
    const { rows } = await h.pool.query<{ hours: number }>(
      `SELECT extract(epoch FROM expires_at - created_at) / 3600 AS hours
       FROM idempotency_keys WHERE principal = $1 AND idem_key = $2`,
      [patientScope(patientId), key],
    );
    expect(Number(rows[0]?.hours)).toBeGreaterThanOrEqual(24);

    await h.pool.query(
      "UPDATE idempotency_keys SET expires_at = now() - interval '1 hour' WHERE principal = $1 AND idem_key = $2",
      [patientScope(patientId), key],
    );
    expect(await h.api.idempotency.purgeExpired()).toBeGreaterThanOrEqual(1);
    expect(await keyRow(patientId, key)).toBeUndefined();
  });
});

describe('takeover with the production lease', () => {
  it('a claim whose owner died is taken over within 5 s by a client retrying every Retry-After', async () => {
    const prod = await startCommandApi(); // DEFAULT_LEASE_SECONDS
    try {
      const scheduleId = await openSchedule(prod);
      const patientId = randomPatient();
      const key = newKey();
      // What a process killed between claim and commit leaves behind: a claim nobody renews.
      const claim = await prod.api.idempotency.claim(
        patientScope(patientId),
        key,
        requestFingerprint('POST', '/v1/appointments', { scheduleId, patientId }),
      );
      expect(claim.kind).toBe('claimed');
      const claimedAt = Date.now();
      let res = await book(prod, scheduleId, patientId, key);
      while (res.status === 409 && Date.now() - claimedAt < 10_000) {
        expect(res.headers['retry-after']).toBe('1');
        await sleep(1_000);
        res = await book(prod, scheduleId, patientId, key);
      }
      const waited = Date.now() - claimedAt;
      console.log(`[idempotency] dead owner's claim taken over after ${waited} ms`);
      expect(res.status).toBe(201);
      // Not before the lease (the owner might have been alive), not after the 5 s promised.
      expect(waited).toBeGreaterThanOrEqual(DEFAULT_LEASE_SECONDS * 1000);
      expect(waited).toBeLessThanOrEqual(5_500);
    } finally {
      await prod.stop();
    }
  });
});
