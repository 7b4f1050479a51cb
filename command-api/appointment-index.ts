/**
 * `appointment_index` (infra/migrations/003): appointment id → its schedule and stream, so a
 * client can address an appointment by its id alone (docs/adr/0001). A row is written in the same
 * transaction as the `AppointmentBooked` event it indexes.
 */
import type { ScheduleEvent, ScheduleState } from '../domain/schedule.ts';
import type { Pool, Queryable } from '../platform/pg.ts';

export interface IndexedAppointment {
  appointmentId: string;
  scheduleId: string;
  streamId: string;
  /** The schedule's institution and the holder's reference (infra/migrations/005; null on older rows). */
  institutionId: string | null;
  patientRef: string | null;
}

/** The index rows for the appointments booked by `events` (appended to `streamId`). */
export const bookedIn = (
  streamId: string,
  events: readonly ScheduleEvent[],
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

  async find(appointmentId: string): Promise<IndexedAppointment | undefined> {
    const { rows } = await this.#pool.query<{
      schedule_id: string;
      stream_id: string;
      institution_id: string | null;
      patient_ref: string | null;
    }>({
      name: 'appointment_index_find',
      text: `SELECT schedule_id, stream_id, institution_id, patient_ref
       FROM appointment_index WHERE appointment_id = $1`,
      values: [appointmentId],
    });
    const row = rows[0];
    return (
      row && {
        appointmentId,
        scheduleId: row.schedule_id,
        streamId: row.stream_id,
        institutionId: row.institution_id,
        patientRef: row.patient_ref,
      }
    );
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
