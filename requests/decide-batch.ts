/**
 * Decides a run of one schedule's booking requests, in their topic order, against the schedule's
 * state (docs/adr/0015): each request is the same `BookAppointment` the synchronous path decides,
 * folded into the state before the next one is judged, so request n sees every place requests
 * 1..n-1 took. Pure: the state, `now` and the refusals the per-patient rules made are passed in.
 */
import { decideStream, foldStream } from '../domain/schedule-stream.ts';
import type {
  ScheduleStreamError,
  ScheduleStreamEvent,
  SlotOptions,
  StreamState,
} from '../domain/slot-state.ts';
import type { PatientRuleError } from '../domain/patient-rules.ts';
import type { BookingRequestMessage } from './request-message.ts';

export interface RequestDecision {
  requestId: string;
  /** The events this request appended (empty: rejected). */
  events: ScheduleStreamEvent[];
  /** Why it was rejected (a domain or per-patient rule error). */
  error?: ScheduleStreamError | PatientRuleError;
}

export interface BatchDecision {
  decisions: RequestDecision[];
  /** Every decision's events, in order: what the batch appends. */
  events: ScheduleStreamEvent[];
  after: StreamState;
}

/**
 * `refused`: requests the per-patient rules refused in an earlier try of this batch (their error
 * is the outcome; they take no place).
 */
export function decideBatch(
  requests: readonly BookingRequestMessage[],
  state: StreamState,
  now: Date,
  options: SlotOptions,
  refused: ReadonlyMap<string, PatientRuleError> = new Map(),
): BatchDecision {
  let current = state;
  const decisions: RequestDecision[] = [];
  const events: ScheduleStreamEvent[] = [];
  for (const r of requests) {
    const refusal = refused.get(r.requestId);
    if (refusal) {
      decisions.push({ requestId: r.requestId, events: [], error: refusal });
      continue;
    }
    const decision = decideStream(
      {
        type: 'BookAppointment',
        scheduleId: r.scheduleId,
        appointmentId: r.appointmentId,
        patientRef: r.patientRef,
        patient: r.patient,
        now,
        ...(r.slot === undefined ? {} : { slot: r.slot }),
        ...(r.channel === undefined ? {} : { channel: r.channel }),
      },
      current,
      options,
    );
    if (!decision.ok) {
      decisions.push({ requestId: r.requestId, events: [], error: decision.error });
      continue;
    }
    current = foldStream(decision.events, current);
    events.push(...decision.events);
    decisions.push({ requestId: r.requestId, events: decision.events });
  }
  return { decisions, events, after: current };
}
