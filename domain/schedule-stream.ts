/**
 * The schedule stream's decider, whole: a capacity-only schedule (no slot book) is decided by
 * schedule.ts exactly as before; a numbered one (opened with `slots`) by the slot rules in
 * slots.ts, holds.ts, waitlist.ts and attendance.ts. One stream per schedule stays the
 * consistency boundary (docs/adr/0001): every slot, hold, waitlist and attendance rule is about
 * one schedule, so the stream's revision check is what keeps one slot from two patients.
 *
 * Pure: `now`, ids, the hold's minutes and the patients the per-patient rules bar are passed in.
 */
import { checkIn, markNoShow } from './attendance.ts';
import { bookNumbered, cancelNumbered, closeNumbered, confirmPayment, expireHold } from './holds.ts';
import { decide, evolve, initialState, withAppointmentEnded } from './schedule.ts';
import type { ScheduleEvent } from './schedule-events.ts';
import {
  expired,
  joined,
  moved,
  newBook,
  paid,
  slotTaken,
  withoutEntry,
  withoutWaiting,
} from './slot-book.ts';
import {
  accept,
  assertNever,
  defaultSlotOptions,
  type Numbered,
  reject,
  type ScheduleStreamCommand,
  type ScheduleStreamEvent,
  type SlotBook,
  type SlotCommand,
  type SlotOptions,
  type StreamDecision,
  type StreamState,
} from './slot-state.ts';
import { openNumbered } from './slots.ts';
import { joinWaitlist, leaveWaitlist, offerFreeSlots } from './waitlist.ts';

export const initialStreamState = (): StreamState => ({ schedule: initialState(), book: null });

const numbered = (state: StreamState): Numbered | null =>
  state.book && state.schedule.status !== 'initial' ? { schedule: state.schedule, book: state.book } : null;

/** A slot command needs a numbered schedule: none yet, or a capacity-only one, is refused. */
function notNumbered(state: StreamState): StreamDecision {
  if (state.schedule.status === 'initial') return reject({ code: 'schedule_not_found' });
  return reject({ code: 'not_numbered' });
}

export function decideStream(
  command: ScheduleStreamCommand,
  state: StreamState,
  options: SlotOptions = defaultSlotOptions,
): StreamDecision {
  const n = numbered(state);
  if (!n) return decideUnnumbered(command, state);
  switch (command.type) {
    case 'OpenSchedule':
      return reject({ code: 'schedule_already_exists' });
    case 'BookAppointment':
      return bookNumbered(command, n, options);
    case 'CancelAppointment':
      return cancelNumbered(command, n, options);
    case 'ChangeCapacity':
      if (n.schedule.status === 'closed') return reject({ code: 'schedule_closed' });
      return reject({
        code: 'invalid_command',
        field: 'capacity',
        reason: 'a numbered schedule has as many places as slots',
      });
    case 'CloseSchedule':
      return closeNumbered(command, n);
    default:
      return decideSlotCommand(command, n, options);
  }
}

function decideSlotCommand(command: SlotCommand, n: Numbered, options: SlotOptions): StreamDecision {
  switch (command.type) {
    case 'ConfirmPayment':
      return confirmPayment(command, n);
    case 'ExpireHold':
      return expireHold(command, n, options);
    case 'OfferFreeSlots':
      return offerFreeSlots(command, n, options);
    case 'JoinWaitlist':
      return joinWaitlist(command, n, options);
    case 'LeaveWaitlist':
      return leaveWaitlist(command, n);
    case 'CheckIn':
      return checkIn(command, n);
    case 'MarkNoShow':
      return markNoShow(command, n);
    default:
      return assertNever(command);
  }
}

/** No slot book: the capacity decider, unchanged; slot-only commands and slot choices are refused. */
function decideUnnumbered(command: ScheduleStreamCommand, state: StreamState): StreamDecision {
  switch (command.type) {
    case 'OpenSchedule':
      return command.slots ? openNumbered(command, command.slots, state) : decide(command, state.schedule);
    case 'BookAppointment':
      if (command.slot !== undefined || command.channel !== undefined) return notNumbered(state);
      return decide(command, state.schedule);
    case 'CancelAppointment':
    case 'ChangeCapacity':
    case 'CloseSchedule':
      return decide(command, state.schedule);
    case 'ExpireHold':
      // A deadline fired for an appointment without a hold: nothing to expire (docs/adr/0012).
      return state.schedule.status !== 'initial' && state.schedule.appointments.has(command.appointmentId)
        ? accept()
        : notNumbered(state);
    case 'ConfirmPayment':
    case 'OfferFreeSlots':
    case 'JoinWaitlist':
    case 'LeaveWaitlist':
    case 'CheckIn':
    case 'MarkNoShow':
      return notNumbered(state);
    default:
      return assertNever(command);
  }
}

// ---------------------------------------------------------------------------------------------
// evolve
// ---------------------------------------------------------------------------------------------

/** The schedule as schedule.ts folds it, and the book moved along by the legacy events. */
function evolveScheduleEvent(state: StreamState, e: ScheduleEvent): StreamState {
  const schedule = evolve(state.schedule, e);
  const book = state.book;
  if (!book) return { schedule, book };
  switch (e.type) {
    case 'AppointmentBooked':
      return { schedule, book: withoutWaiting(book, e.data.patientRef) };
    case 'AppointmentCancelled':
      return { schedule, book: cancelled(book, e.data.appointmentId) };
    case 'ScheduleClosed':
      return { schedule, book: { ...book, waitlist: [] } };
    default:
      return { schedule, book };
  }
}

const cancelled = (book: SlotBook, appointmentId: string): SlotBook => {
  const status = book.bookings.get(appointmentId)?.status;
  return status === 'held' || status === 'confirmed' ? moved(book, appointmentId, 'cancelled') : book;
};

const attended = (book: SlotBook, appointmentId: string, status: 'checked_in' | 'no_show'): SlotBook =>
  book.bookings.get(appointmentId)?.status === 'confirmed' ? moved(book, appointmentId, status) : book;

/** Total, like `evolve`: an event that does not fit the state leaves it unchanged. */
export function evolveStream(state: StreamState, e: ScheduleStreamEvent): StreamState {
  if (e.type === 'SlotsReleased')
    return state.schedule.status === 'open' && !state.book ? { ...state, book: newBook(e.data) } : state;
  const book = state.book;
  if (!book) return isSlotEvent(e) ? state : evolveScheduleEvent(state, e);
  switch (e.type) {
    case 'SlotTaken':
      return { ...state, book: slotTaken(book, e.data) };
    case 'PaymentConfirmed':
      return { ...state, book: paid(book, e.data.appointmentId, e.data.paymentRef) };
    case 'HoldExpired':
      if (book.bookings.get(e.data.appointmentId)?.status !== 'held') return state;
      return {
        schedule: withAppointmentEnded(state.schedule, e.data.appointmentId),
        book: expired(book, e.data.appointmentId),
      };
    case 'RefundNeeded':
      return state;
    case 'WaitlistJoined':
      return { ...state, book: joined(book, e.data) };
    case 'WaitlistLeft':
      return { ...state, book: withoutEntry(book, e.data.entryId) };
    case 'PatientCheckedIn':
      return { ...state, book: attended(book, e.data.appointmentId, 'checked_in') };
    case 'NoShowMarked':
      return { ...state, book: attended(book, e.data.appointmentId, 'no_show') };
    default:
      return evolveScheduleEvent(state, e);
  }
}

const SCHEDULE_EVENT_TYPES: ReadonlySet<string> = new Set<ScheduleEvent['type']>([
  'ScheduleOpened',
  'AppointmentBooked',
  'AppointmentCancelled',
  'CapacityChanged',
  'ScheduleClosed',
]);

const isSlotEvent = (e: ScheduleStreamEvent): e is Exclude<ScheduleStreamEvent, ScheduleEvent> =>
  !SCHEDULE_EVENT_TYPES.has(e.type);

export const foldStream = (
  events: Iterable<ScheduleStreamEvent>,
  from: StreamState = initialStreamState(),
): StreamState => {
  let state = from;
  for (const e of events) state = evolveStream(state, e);
  return state;
};
