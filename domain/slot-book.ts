/**
 * How a numbered schedule's slot book changes with each event (the `evolve` half of slots,
 * holds, the waitlist and attendance). Pure and total: an event that does not fit leaves the
 * book unchanged, as `evolve` in schedule.ts does.
 */
import { emptyMap, withEntry, withoutKey } from './persistent-map.ts';
import type { SlotEventOf } from './slot-events.ts';
import type { SlotBook, SlotBooking, SlotBookingStatus } from './slot-state.ts';

export const newBook = (data: SlotEventOf<'SlotsReleased'>['data']): SlotBook => ({
  plan: {
    firstSlotAt: data.firstSlotAt,
    intervalMinutes: data.intervalMinutes,
    count: data.count,
    reservations: data.reservations,
  },
  taken: emptyMap(),
  bookings: emptyMap(),
  waitlist: [],
});

export function slotTaken(book: SlotBook, data: SlotEventOf<'SlotTaken'>['data']): SlotBook {
  // Never two appointments on one slot, even from a stream the decider did not write.
  if (book.taken.has(data.slot) || book.bookings.has(data.appointmentId)) return book;
  const facts = {
    appointmentId: data.appointmentId,
    patientRef: data.patientRef,
    slot: data.slot,
    amount: data.amount,
    paymentRef: null,
  };
  const booking: SlotBooking =
    data.holdExpiresAt === null
      ? { status: 'confirmed', ...facts }
      : { status: 'held', holdExpiresAt: data.holdExpiresAt, ...facts };
  const taken = withEntry(book.taken, data.slot, data.appointmentId);
  const bookings = withEntry(book.bookings, data.appointmentId, booking);
  return { ...book, taken, bookings };
}

const STILL_ON_SLOT: ReadonlySet<SlotBookingStatus> = new Set(['held', 'confirmed', 'checked_in', 'no_show']);

/** The booking moved to `status`; leaving the slot frees it. */
export function moved(
  book: SlotBook,
  appointmentId: string,
  status: Exclude<SlotBookingStatus, 'held'>,
  paymentRef?: string,
): SlotBook {
  const current = book.bookings.get(appointmentId);
  if (!current) return book;
  const { appointmentId: id, patientRef, slot, amount } = current;
  const next: SlotBooking = {
    status,
    appointmentId: id,
    patientRef,
    slot,
    amount,
    paymentRef: paymentRef ?? current.paymentRef,
  };
  const bookings = withEntry(book.bookings, appointmentId, next);
  if (STILL_ON_SLOT.has(status) || book.taken.get(slot) !== appointmentId) return { ...book, bookings };
  return { ...book, bookings, taken: withoutKey(book.taken, slot) };
}

/** Only a held appointment is confirmed by a payment. */
export function paid(book: SlotBook, appointmentId: string, paymentRef: string): SlotBook {
  return book.bookings.get(appointmentId)?.status === 'held'
    ? moved(book, appointmentId, 'confirmed', paymentRef)
    : book;
}

/** Only a held appointment expires. */
export function expired(book: SlotBook, appointmentId: string): SlotBook {
  return book.bookings.get(appointmentId)?.status === 'held' ? moved(book, appointmentId, 'expired') : book;
}

export const joined = (book: SlotBook, data: SlotEventOf<'WaitlistJoined'>['data']): SlotBook => ({
  ...book,
  waitlist: [
    ...book.waitlist,
    {
      entryId: data.entryId,
      patientRef: data.patientRef,
      patient: data.patient,
      channel: data.channel,
      joinedAt: data.joinedAt,
    },
  ],
});

/** A patient with an appointment (booked, or offered a slot) is no longer waiting. */
export const withoutWaiting = (book: SlotBook, patientRef: string): SlotBook =>
  book.waitlist.some((e) => e.patientRef === patientRef)
    ? { ...book, waitlist: book.waitlist.filter((e) => e.patientRef !== patientRef) }
    : book;

export const withoutEntry = (book: SlotBook, entryId: string): SlotBook => ({
  ...book,
  waitlist: book.waitlist.filter((e) => e.entryId !== entryId),
});
