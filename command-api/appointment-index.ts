/**
 * `appointment_index` (infra/migrations/003): appointment id → its schedule and stream, so a
 * client can address an appointment by its id alone (docs/adr/0001). A row is written in the same
 * transaction as the `AppointmentBooked` event it indexes.
 */
import type { ScheduleState } from '../domain/schedule.ts';
import type { ScheduleStreamEvent } from '../domain/slot-state.ts';
import { findIndexedAppointment, type IndexedAppointment } from '../platform/appointment-index.ts';
import type { Pool, Queryable } from '../platform/pg.ts';

export type { IndexedAppointment };

/** The index rows for the appointments booked by `events` (appended to `streamId`). */
export const bookedIn = (
  streamId: string,
  events: readonly ScheduleStreamEvent[],
  state: ScheduleState,
): IndexedAppointment[] =>
  events.flatMap((e) =>
    e.type === 'AppointmentBooked'
      ? [
          {
            appointmentId: e.data.appointmentId,
            scheduleId: e.data.scheduleId,
            streamId,
            institutionId: state.status === 'initial' ? null : state.institutionId,
            patientRef: e.data.patientRef,
          },
        ]
      : [],
  );

export class PgAppointmentIndex {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  find(appointmentId: string): Promise<IndexedAppointment | undefined> {
    return findIndexedAppointment(this.#pool, appointmentId);
  }

  /** Inside the transaction that appends the bookings (`db` is its handle). */
  async add(db: Queryable, rows: readonly IndexedAppointment[]): Promise<void> {
    if (rows.length === 0) return;
    await db.query({
      name: 'appointment_index_add',
      text: `INSERT INTO appointment_index (appointment_id, schedule_id, stream_id, institution_id, patient_ref)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[])`,
      values: [
        rows.map((r) => r.appointmentId),
        rows.map((r) => r.scheduleId),
        rows.map((r) => r.streamId),
        rows.map((r) => r.institutionId),
        rows.map((r) => r.patientRef),
      ],
    });
  }
}
