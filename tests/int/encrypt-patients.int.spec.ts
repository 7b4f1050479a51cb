/**
 * `npm run patients:encrypt` (infra/encrypt-patients.ts) on the run's database: events stored in
 * v1's clear shape become v2 in place — no patient id left in data or metadata — and still fold
 * into the same schedule; a second pass rewrites nothing.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScheduleStates } from '../../command-api/schedule-states.ts';
import { encryptPatients } from '../../infra/encrypt-patients.ts';
import { PgEventStore } from '../../platform/event-store/pg-event-store.ts';
import { patientVault } from '../../platform/patient-vault.ts';
import type { Pool } from '../../platform/pg.ts';
import { migrateTestDatabase, testPool } from '../support/db.ts';
import { testConfig } from '../support/test-config.ts';
import { unversionedStoredEvents } from '../support/unversioned-events.ts';

let pool: Pool;

beforeAll(async () => {
  await migrateTestDatabase();
  pool = testPool(4);
});

afterAll(async () => {
  await pool?.end();
});

describe('patients:encrypt', () => {
  it('rewrites v1 events to v2 in place, idempotently, and the stream still folds', async () => {
    const store = new PgEventStore(pool);
    const streamId = `schedule-${randomUUID()}`;
    const v1 = unversionedStoredEvents();
    // The fixture's events as v1 left them: no schema version, patient ids in clear.
    await store.appendToStream(
      streamId,
      v1.map((e) => ({ type: e.type, data: e.data, metadata: e.metadata })),
      'no_stream',
    );
    const clearIds = [
      ...new Set(v1.flatMap((e) => [(e.data as { patientId?: string }).patientId ?? []].flat())),
    ];
    expect(clearIds.length).toBeGreaterThan(0);
    const before = await store.readStream(streamId);
    const vault = patientVault(pool, testConfig());

    const first = await encryptPatients(pool, vault, { batchSize: 2 });
    expect(first.rewritten).toBeGreaterThanOrEqual(v1.filter((e) => e.type.startsWith('Appointment')).length);

    const after = await store.readStream(streamId);
    expect(after.map((e) => [e.id, e.revision, e.checkpoint])).toEqual(
      before.map((e) => [e.id, e.revision, e.checkpoint]),
    );
    for (const e of after) {
      const text = JSON.stringify([e.data, e.metadata]);
      for (const id of clearIds) expect(text).not.toContain(`"${id}"`);
      if (e.type.startsWith('Appointment')) expect(e.metadata.schemaVersion).toBe(2);
    }
    const booked = after.find((e) => e.type === 'AppointmentBooked')!;
    const { patientRef, patient } = booked.data as { patientRef: string; patient: string };
    expect(clearIds).toContain(await vault.patientIdOf(patientRef, patient));

    const loaded = await new ScheduleStates().load(store, streamId);
    expect(loaded.state.status).toBe('closed');

    const second = await encryptPatients(pool, vault);
    expect(second.rewritten).toBe(0);
  });
});
