/**
 * The schedule stream's full vocabulary (issue 15; docs/adr/0012): the commands, state, errors
 * and options of a schedule that may carry numbered slots. Types only, plus the decision helpers;
 * the rules live in slots.ts, holds.ts, waitlist.ts and attendance.ts, the dispatch and the fold in
 * schedule-stream.ts.
 *
 * A capacity-only schedule is a schedule without a slot book (`book: null`): its commands go to
 * the unchanged decider in schedule.ts and it writes exactly the events it wrote before.
 */
import type { CutoffOptions } from './patient-rules.ts';
import type {
  Actor,
  BookAppointment,
  CancelAppointment,
  ChangeCapacity,
  CloseSchedule,
  OpenSchedule,
  ScheduleError,
  ScheduleState,
} from './schedule.ts';
import type { ScheduleEvent } from './schedule-events.ts';
import type { SlotEvent } from './slot-events.ts';

/** The channel of a booking that names none: the public, online one. */
export const DEFAULT_CHANNEL = 'online';
export const DEFAULT_HOLD_MINUTES = 15;
export const MAX_SLOTS = 1000;
export const MAX_INTERVAL_MINUTES = 240;

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/** Slots `from`..`to` are for `channel` only until `releasesAt`, then for everyone. */
export interface ReservationInput {
  channel: string;
  from: number;
  to: number;
  releasesAt: Date;
}

export interface SlotPlanInput {
  /** HH:MM, the hospital's local time on the schedule's date; not before the session starts. */
  firstSlotTime: string;
  intervalMinutes: number;
  count: number;
  reservations?: readonly ReservationInput[] | undefined;
}

/** Opens a schedule; with `slots`, a numbered one whose capacity is the slot count. */
export type OpenWithSlots = OpenSchedule & { slots?: SlotPlanInput | undefined };

/** On a numbered schedule: `slot` absent takes the lowest free slot the channel may take. */
export type BookSlot = BookAppointment & {
  slot?: number | undefined;
  channel?: string | undefined;
};

/** Patients the per-patient rules bar from an offer right now (the caller computes them). */
export interface OfferContext {
  barredFromOffers?: readonly string[] | undefined;
}

export type CancelWithOffer = CancelAppointment & OfferContext;

/** From the payment side; idempotent by `paymentRef`. */
export interface ConfirmPayment {
  type: 'ConfirmPayment';
  appointmentId: string;
  paymentRef: string;
  amount: number;
  now: Date;
}

/** Fired by the deadline mechanism (docs/adr/0012) at or after a hold's deadline. */
export interface ExpireHold extends OfferContext {
  type: 'ExpireHold';
  appointmentId: string;
  now: Date;
}

/**
 * Offers every free slot the waiting patients may take now (fired at a reservation's release
 * time, when slots become open to channels that were waiting). Repeating it offers nothing new.
 */
export interface OfferFreeSlots extends OfferContext {
  type: 'OfferFreeSlots';
  scheduleId: string;
  now: Date;
}

export interface JoinWaitlist {
  type: 'JoinWaitlist';
  scheduleId: string;
  /** Becomes the appointment's id when a slot is offered. */
  entryId: string;
  patientRef: string;
  patient: string;
  channel?: string | undefined;
  now: Date;
}

export interface LeaveWaitlist {
  type: 'LeaveWaitlist';
  entryId: string;
  actor: Actor;
  now: Date;
}

export interface CheckIn {
  type: 'CheckIn';
  appointmentId: string;
  actor: Actor;
  now: Date;
}

export interface MarkNoShow {
  type: 'MarkNoShow';
  appointmentId: string;
  actor: Actor;
  now: Date;
}

export type SlotCommand =
  ConfirmPayment | ExpireHold | OfferFreeSlots | JoinWaitlist | LeaveWaitlist | CheckIn | MarkNoShow;

export type ScheduleStreamCommand =
  OpenWithSlots | BookSlot | CancelWithOffer | ChangeCapacity | CloseSchedule | SlotCommand;

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

export interface Reservation {
  channel: string;
  from: number;
  to: number;
  releasesAt: string;
}

export interface SlotPlan {
  firstSlotAt: string;
  intervalMinutes: number;
  count: number;
  reservations: readonly Reservation[];
}

interface BookingFacts {
  appointmentId: string;
  patientRef: string;
  slot: number;
  amount: number;
  /** Set once a payment confirmed the appointment; null for a free one or an unpaid hold. */
  paymentRef: string | null;
}

/** One appointment on a numbered schedule, by where it is in its life. */
export type SlotBooking =
  | ({ status: 'held'; holdExpiresAt: string } & BookingFacts)
  | ({ status: 'confirmed' } & BookingFacts)
  | ({ status: 'checked_in' } & BookingFacts)
  | ({ status: 'no_show' } & BookingFacts)
  | ({ status: 'cancelled' } & BookingFacts)
  | ({ status: 'expired' } & BookingFacts);

export type SlotBookingStatus = SlotBooking['status'];

export interface WaitlistEntry {
  entryId: string;
  patientRef: string;
  patient: string;
  channel: string;
  joinedAt: string;
}

export interface SlotBook {
  plan: SlotPlan;
  /** slot number → the appointment occupying it (held, confirmed, checked in or no-show). */
  taken: ReadonlyMap<number, string>;
  bookings: ReadonlyMap<string, SlotBooking>;
  /** First come, first offered. */
  waitlist: readonly WaitlistEntry[];
}

/** The folded schedule stream: the schedule as schedule.ts knows it, and its slot book if numbered. */
export interface StreamState {
  schedule: ScheduleState;
  book: SlotBook | null;
}

/** A numbered schedule: what every slot rule works on. */
export interface Numbered {
  schedule: Exclude<ScheduleState, { status: 'initial' }>;
  book: SlotBook;
}

// ---------------------------------------------------------------------------------------------
// Errors, options and decisions
// ---------------------------------------------------------------------------------------------

export type SlotError =
  /** A slot, hold, waitlist or attendance command on a capacity-only schedule. */
  | { code: 'not_numbered' }
  | { code: 'slot_not_found'; slot: number }
  | { code: 'slot_taken'; slot: number }
  | { code: 'slot_reserved'; slot: number; channel: string; releasesAt: string }
  | { code: 'hold_not_expired'; appointmentId: string; deadline: string }
  | { code: 'hold_expired'; appointmentId: string }
  /** The appointment was confirmed by another payment. */
  | { code: 'payment_ref_conflict'; appointmentId: string }
  | { code: 'payment_amount_mismatch'; expected: number; amount: number }
  | { code: 'not_confirmed'; appointmentId: string }
  | { code: 'too_early'; earliest: string }
  | { code: 'not_permitted'; reason: string }
  | { code: 'already_waitlisted'; entryId: string }
  /** Joining the waitlist while a slot the patient may take is free: book it instead. */
  | { code: 'slot_available' }
  | { code: 'waitlist_entry_not_found'; entryId: string }
  | { code: 'booking_closed'; cutoff: string }
  | { code: 'cancellation_closed'; cutoff: string };

export type ScheduleStreamError = ScheduleError | SlotError;
export type ScheduleStreamErrorCode = ScheduleStreamError['code'];
export type ScheduleStreamEvent = ScheduleEvent | SlotEvent;

export type StreamDecision =
  { ok: true; events: ScheduleStreamEvent[] } | { ok: false; error: ScheduleStreamError };

export interface SlotOptions extends CutoffOptions {
  /** How long a paid booking is held unpaid (config HOLD_MINUTES). */
  holdMinutes: number;
  /** How long a waitlist offer of a paid slot is held. */
  offerMinutes: number;
}

export const defaultSlotOptions: SlotOptions = {
  holdMinutes: DEFAULT_HOLD_MINUTES,
  offerMinutes: DEFAULT_HOLD_MINUTES,
  bookingCutoffMinutes: 0,
  cancellationCutoffMinutes: 0,
};

export const accept = (...events: ScheduleStreamEvent[]): StreamDecision => ({ ok: true, events });
export const reject = (error: ScheduleStreamError): StreamDecision => ({ ok: false, error });

export const assertNever = (value: never): never => {
  throw new Error(`Unhandled variant: ${JSON.stringify(value)}`);
};

export const addMinutes = (at: Date | string, minutes: number): Date =>
  new Date(new Date(at).getTime() + minutes * 60_000);
