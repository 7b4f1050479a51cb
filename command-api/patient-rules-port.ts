/**
 * What the command path needs of the per-patient rules (docs/adr/0012 §4), as a port: the patients
 * the rules bar from a waitlist offer (read without a lock, before deciding) and, inside the
 * append's transaction, the check under the patients' row locks plus the rows the events imply.
 * The PostgreSQL adapter is patient-bookings.ts.
 */
import type { ScheduleState } from '../domain/schedule.ts';
import type { PatientRuleError, ScheduleRef } from '../domain/patient-rules.ts';
import type { ScheduleStreamCommand, ScheduleStreamEvent, StreamState } from '../domain/slot-state.ts';

export interface PatientRulesPort<Tx> {
  /** Of `waiting`, the patients the rules bar from an offer on `schedule` at `now`. */
  barred(waiting: readonly string[], schedule: ScheduleRef, now: Date): Promise<string[]>;
  /** In the append's transaction: lock, check, write; throws PatientRuleRefusedError. */
  apply(tx: Tx, events: readonly ScheduleStreamEvent[], schedule: ScheduleRef, now: Date): Promise<void>;
}

/** A patient the events book breaks a per-patient rule: the transaction must roll back. */
export class PatientRuleRefusedError extends Error {
  readonly patientRef: string;
  readonly error: PatientRuleError;

  constructor(patientRef: string, error: PatientRuleError) {
    super(`patient ${patientRef}: ${error.code}`);
    this.name = 'PatientRuleRefusedError';
    this.patientRef = patientRef;
    this.error = error;
  }
}

export const scheduleRefOf = (s: Exclude<ScheduleState, { status: 'initial' }>): ScheduleRef => ({
  scheduleId: s.scheduleId,
  doctorId: s.doctorId,
  date: s.date,
});

/**
 * The command with the patients barred from offers filled in, for the commands that may offer a
 * freed slot (a cancellation, an expiry, a release) on a numbered schedule with patients waiting.
 */
export async function withBarred<Tx>(
  rules: PatientRulesPort<Tx> | undefined,
  command: ScheduleStreamCommand,
  stream: StreamState,
  alsoBarred: readonly string[],
): Promise<ScheduleStreamCommand> {
  if (
    command.type !== 'CancelAppointment' &&
    command.type !== 'ExpireHold' &&
    command.type !== 'OfferFreeSlots'
  )
    return command;
  const waiting = stream.book?.waitlist.map((w) => w.patientRef) ?? [];
  if (waiting.length === 0 || stream.schedule.status === 'initial') return command;
  const barred = rules ? await rules.barred(waiting, scheduleRefOf(stream.schedule), command.now) : [];
  return {
    ...command,
    barredFromOffers: [...new Set([...(command.barredFromOffers ?? []), ...barred, ...alsoBarred])],
  };
}
