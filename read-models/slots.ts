/**
 * The numbered-slot part of a schedule's availability document (issue 15, docs/adr/0012): the
 * contract between the Redis projector (projections/redis/slot-read-model.ts) and the query API.
 * Pure: no I/O.
 *
 * Stored as one JSON field, `slots`, of the schedule hash (read-models/bookings.ts), so a
 * schedule's availability with every slot's state is one HGETALL, in the same revision-guarded
 * write as its counts. The stored document names the appointment occupying each taken slot (the
 * projector needs it to free the slot on a cancellation, which names no slot); what the query API
 * serves says only a slot's state, never whose it is (`publicSlots`).
 */

export interface StoredReservation {
  channel: string;
  from: number;
  to: number;
  releasesAt: string;
}

/** A taken slot's state: the appointment's life on it (attendance keeps the slot taken). */
export type TakenState = 'held' | 'confirmed' | 'checked_in' | 'no_show';

export interface TakenSlot {
  /** The appointment occupying the slot (internal: never served on the public routes). */
  appointmentId: string;
  state: TakenState;
  /** The hold's deadline while `held`. */
  holdExpiresAt?: string;
}

export interface SlotBookDoc {
  firstSlotAt: string;
  intervalMinutes: number;
  count: number;
  reservations: StoredReservation[];
  /** slot number (as a string key) → what occupies it; a free slot has no entry. */
  taken: Record<string, TakenSlot>;
}

/** What a reader sees of one slot. `reserved`: free, but only for `channel` until `releasesAt`. */
export type SlotState = 'free' | 'held' | 'confirmed' | 'reserved';

export interface SlotView {
  slot: number;
  startsAt: string;
  state: SlotState;
  /** Present while `held`: when the hold expires and the slot returns unless paid. */
  holdExpiresAt?: string;
  /** Present while `reserved`. */
  channel?: string;
  releasesAt?: string;
}

export const SLOTS_FIELD = 'slots';

export const encodeSlotBook = (doc: SlotBookDoc): string => JSON.stringify(doc);

/** The stored document, or undefined for a capacity-only schedule (or an unreadable field). */
export function decodeSlotBook(raw: string | undefined): SlotBookDoc | undefined {
  if (raw === undefined || raw === '') return undefined;
  try {
    const doc = JSON.parse(raw) as SlotBookDoc;
    return typeof doc.count === 'number' && doc.taken ? doc : undefined;
  } catch {
    return undefined;
  }
}

export const slotStartsAt = (doc: SlotBookDoc, slot: number): string =>
  new Date(Date.parse(doc.firstSlotAt) + (slot - 1) * doc.intervalMinutes * 60_000).toISOString();

/** The slot an appointment occupies, if it occupies one. */
export function slotOf(doc: SlotBookDoc, appointmentId: string): number | undefined {
  for (const [slot, taken] of Object.entries(doc.taken)) {
    if (taken.appointmentId === appointmentId) return Number(slot);
  }
  return undefined;
}

/** Slots held and taken for good (confirmed, checked in or no-show). */
export function slotCounts(doc: SlotBookDoc): { held: number; confirmed: number; free: number } {
  let held = 0;
  let confirmed = 0;
  for (const taken of Object.values(doc.taken)) {
    if (taken.state === 'held') held += 1;
    else confirmed += 1;
  }
  return { held, confirmed, free: doc.count - held - confirmed };
}

/**
 * Every slot as a reader sees it at `now` (a reservation is judged at read time: a cached answer
 * may show it up to the cache's TTL after it released). Says the state only, never who.
 */
export function publicSlots(doc: SlotBookDoc, now: Date): SlotView[] {
  const slots: SlotView[] = [];
  for (let slot = 1; slot <= doc.count; slot++) {
    const startsAt = slotStartsAt(doc, slot);
    const taken = doc.taken[String(slot)];
    if (taken) {
      slots.push(
        taken.state === 'held'
          ? {
              slot,
              startsAt,
              state: 'held',
              ...(taken.holdExpiresAt ? { holdExpiresAt: taken.holdExpiresAt } : {}),
            }
          : { slot, startsAt, state: 'confirmed' },
      );
      continue;
    }
    const r = doc.reservations.find((x) => slot >= x.from && slot <= x.to);
    if (r && now.getTime() < Date.parse(r.releasesAt)) {
      slots.push({ slot, startsAt, state: 'reserved', channel: r.channel, releasesAt: r.releasesAt });
    } else {
      slots.push({ slot, startsAt, state: 'free' });
    }
  }
  return slots;
}
