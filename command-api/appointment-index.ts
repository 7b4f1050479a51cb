/**
 * `appointment_index` (infra/migrations/003): appointment id → its schedule and stream, so a
 * client can address an appointment by its id alone (docs/adr/0001). A row is written in the same
 * transaction as the `AppointmentBooked` event it indexes.
 */
import type { ScheduleEvent } from '../domain/schedule.ts';
import type { Pool, Queryable } from '../platform/pg.ts';

export interface IndexedAppointment {
  appointmentId: string;
  scheduleId: string;
  streamId: string;
}

/** The index rows for the appointments booked by `events` (appended to `streamId`). */
export const bookedIn = (streamId: string, events: readonly ScheduleEvent[]): IndexedAppointment[] =>
  events.flatMap((e) =>
    e.type === 'AppointmentBooked'
      ? [{ appointmentId: e.data.appointmentId, scheduleId: e.data.scheduleId, streamId }]
      : [],
  );

export class PgAppointmentIndex {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  async find(appointmentId: string): Promise<IndexedAppointment | undefined> {
    const { rows } = await this.#pool.query<{ schedule_id: string; stream_id: string }>({
      name: 'appointment_index_find',
      text: 'SELECT schedule_id, stream_id FROM appointment_index WHERE appointment_id = $1',
      values: [appointmentId],
    });
    const row = rows[0];
    return row && { appointmentId, scheduleId: row.schedule_id, streamId: row.stream_id };
  }

  /** Inside the transaction that appends the bookings (`db` is its handle). */
  async add(db: Queryable, rows: readonly IndexedAppointment[]): Promise<void> {
    if (rows.length === 0) return;
    await db.query({
      name: 'appointment_index_add',
      text: `INSERT INTO appointment_index (appointment_id, schedule_id, stream_id)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[])`,
      values: [rows.map((r) => r.appointmentId), rows.map((r) => r.scheduleId), rows.map((r) => r.streamId)],
    });
  }
}
