/**
 * Reading `appointment_index` (infra/migrations/003, 005): appointment id → its schedule, stream,
 * institution and holder. Written by the command side in the booking's transaction
 * (command-api/appointment-index.ts); read by the command API (to address a cancellation) and by
 * the query API (to authorise a read before waiting on the projectors, docs/adr/0010).
 */
import type { Queryable } from './pg.ts';

export interface IndexedAppointment {
  appointmentId: string;
  scheduleId: string;
  streamId: string;
  /** The schedule's institution and the holder's reference (infra/migrations/005; null on older rows). */
  institutionId: string | null;
  patientRef: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The indexed appointment; an id that is not a uuid (the column's type) is unknown, not an error. */
export async function findIndexedAppointment(
  db: Queryable,
  appointmentId: string,
): Promise<IndexedAppointment | undefined> {
  if (!UUID.test(appointmentId)) return undefined;
  const { rows } = await db.query<{
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
