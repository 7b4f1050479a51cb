/**
 * The per-patient rules' tables (infra/migrations/010, docs/adr/0012 §4): `patient_bookings`, one
 * row per numbered appointment, written in the append's transaction from the decision's events,
 * and `patient_locks`, locked per patient in sorted order while the rules are checked, so one
 * patient's bookings on two schedules (two streams) are decided one after the other.
 */
import {
  checkDecision,
  emptyPatient,
  type PatientFact,
  type PatientRuleOptions,
  patientFactsOf,
  type PatientState,
  barredFromOffers,
  type ScheduleRef,
} from '../domain/patient-rules.ts';
import type { ScheduleStreamEvent } from '../domain/slot-state.ts';
import type { Pool, Queryable } from '../platform/pg.ts';
import { PatientRuleRefusedError, type PatientRulesPort } from './patient-rules-port.ts';

interface Row {
  patient_ref: string;
  appointment_id: string;
  schedule_id: string;
  doctor_id: string;
  date: string;
  status: 'active' | 'ended' | 'no_show';
  no_show_at: Date | null;
}

/** The patients' states as the rules see them: active appointments and no-shows. */
async function statesOf(db: Queryable, refs: readonly string[]): Promise<Map<string, PatientState>> {
  const { rows } = await db.query<Row>({
    name: 'patient_bookings_states',
    text: `SELECT patient_ref, appointment_id, schedule_id, doctor_id, date::text AS date, status, no_show_at
           FROM patient_bookings WHERE patient_ref = ANY($1::text[]) AND (status = 'active' OR no_show_at IS NOT NULL)`,
    values: [refs],
  });
  const result = new Map<string, PatientState>();
  for (const ref of refs) result.set(ref, emptyPatient(ref));
  for (const r of rows) {
    const s = result.get(r.patient_ref) ?? emptyPatient(r.patient_ref);
    const active = new Map(s.active);
    if (r.status === 'active')
      active.set(r.appointment_id, {
        appointmentId: r.appointment_id,
        scheduleId: r.schedule_id,
        doctorId: r.doctor_id,
        date: r.date,
      });
    const noShows = r.no_show_at ? [...s.noShows, r.no_show_at.toISOString()] : s.noShows;
    result.set(r.patient_ref, { ...s, active, noShows });
  }
  return result;
}

const isUniqueViolation = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';

export class PgPatientBookings implements PatientRulesPort<Queryable> {
  readonly #pool: Pool;
  readonly #options: PatientRuleOptions;

  constructor(pool: Pool, options: PatientRuleOptions) {
    this.#pool = pool;
    this.#options = options;
  }

  async barred(waiting: readonly string[], schedule: ScheduleRef, now: Date): Promise<string[]> {
    const states = await statesOf(this.#pool, waiting);
    return barredFromOffers([...states.values()], schedule, now, this.#options);
  }

  async apply(
    db: Queryable,
    events: readonly ScheduleStreamEvent[],
    schedule: ScheduleRef,
    now: Date,
  ): Promise<void> {
    const facts = patientFactsOf(events, schedule);
    if (facts.length === 0) return;
    const booking = [...new Set(facts.flatMap((f) => (f.kind === 'booked' ? [f.patientRef] : [])))].sort();
    if (booking.length > 0) {
      await lockPatients(db, booking);
      const refused = checkDecision(await statesOf(db, booking), events, schedule, now, this.#options);
      if (refused) throw new PatientRuleRefusedError(refused.patientRef, refused.error);
    }
    for (const fact of facts) await write(db, fact);
  }
}

/** Row locks of the patients, taken in patient_ref order so two decisions cannot deadlock. */
async function lockPatients(db: Queryable, sortedRefs: readonly string[]): Promise<void> {
  await db.query({
    name: 'patient_locks_ensure',
    text: `INSERT INTO patient_locks (patient_ref) SELECT r FROM unnest($1::text[]) AS u(r) ORDER BY r
           ON CONFLICT DO NOTHING`,
    values: [sortedRefs],
  });
  await db.query({
    name: 'patient_locks_lock',
    text: 'SELECT patient_ref FROM patient_locks WHERE patient_ref = ANY($1::text[]) ORDER BY patient_ref FOR UPDATE',
    values: [sortedRefs],
  });
}

async function write(db: Queryable, fact: PatientFact): Promise<void> {
  switch (fact.kind) {
    case 'booked': {
      const a = fact.appointment;
      try {
        await db.query({
          name: 'patient_bookings_book',
          text: `INSERT INTO patient_bookings (appointment_id, patient_ref, schedule_id, doctor_id, date, status)
                 VALUES ($1, $2, $3, $4, $5, 'active')`,
          values: [a.appointmentId, fact.patientRef, a.scheduleId, a.doctorId, a.date],
        });
      } catch (err) {
        // The index holds the rule even if the check above was wrong: refuse, never double-book.
        if (!isUniqueViolation(err)) throw err;
        throw new PatientRuleRefusedError(fact.patientRef, {
          code: 'one_per_doctor_per_day',
          appointmentId: a.appointmentId,
        });
      }
      return;
    }
    case 'ended':
      await db.query({
        name: 'patient_bookings_end',
        text: `UPDATE patient_bookings SET status = 'ended', updated_at = now() WHERE appointment_id = $1 AND status = 'active'`,
        values: [fact.appointmentId],
      });
      return;
    case 'no_show':
      await db.query({
        name: 'patient_bookings_no_show',
        text: `UPDATE patient_bookings SET status = 'no_show', no_show_at = $2, updated_at = now() WHERE appointment_id = $1`,
        values: [fact.appointmentId, fact.at],
      });
      return;
    default: {
      const unknown: never = fact;
      throw new Error(`unhandled patient fact ${JSON.stringify(unknown)}`);
    }
  }
}
