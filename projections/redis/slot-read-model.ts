/**
 * The read side of numbered slots (issue 15, docs/adr/0012), pure: `evolveSlots` folds a
 * schedule's slot document (read-models/slots.ts) and `slotAppointmentOps` gives the writes a slot
 * event implies for its appointment, the schedule's day list and the patient's own list.
 * read-model.ts calls both from `scheduleEffects`, so slot events go through the same
 * revision-guarded script as every other booking write (redis-writer.ts).
 */
import type { ScheduleStreamEvent } from '../../domain/slot-state.ts';
import type { Keyspace, ScheduleView } from '../../read-models/bookings.ts';
import type { SlotBookDoc, TakenSlot } from '../../read-models/slots.ts';
import { slotOf } from '../../read-models/slots.ts';
import { appointmentFacts } from './appointment-facts.ts';
import type { RedisOp } from './read-model.ts';

const withTaken = (doc: SlotBookDoc, slot: number, taken: TakenSlot | undefined): SlotBookDoc => {
  const next = { ...doc.taken };
  if (taken) next[String(slot)] = taken;
  else delete next[String(slot)];
  return { ...doc, taken: next };
};

/** The slot `appointmentId` occupies moved to `state` (nothing when it occupies none). */
function moved(doc: SlotBookDoc, appointmentId: string, state: TakenSlot['state']): SlotBookDoc {
  const slot = slotOf(doc, appointmentId);
  return slot === undefined ? doc : withTaken(doc, slot, { appointmentId, state });
}

/** The slot `appointmentId` occupies, freed (nothing when it occupies none: already freed). */
function freed(doc: SlotBookDoc, appointmentId: string): SlotBookDoc {
  const slot = slotOf(doc, appointmentId);
  return slot === undefined ? doc : withTaken(doc, slot, undefined);
}

/**
 * Pure: the slot document after `event`; undefined for a capacity-only schedule (no
 * SlotsReleased). Freeing looks the slot up by appointment, so a repeated event changes nothing.
 */
export function evolveSlots(
  doc: SlotBookDoc | undefined,
  event: ScheduleStreamEvent,
): SlotBookDoc | undefined {
  if (event.type === 'SlotsReleased') {
    const d = event.data;
    return {
      firstSlotAt: d.firstSlotAt,
      intervalMinutes: d.intervalMinutes,
      count: d.count,
      reservations: d.reservations.map((r) => ({ ...r })),
      taken: {},
    };
  }
  if (!doc) return doc;
  switch (event.type) {
    case 'SlotTaken': {
      const d = event.data;
      const taken: TakenSlot =
        d.holdExpiresAt === null
          ? { appointmentId: d.appointmentId, state: 'confirmed' }
          : { appointmentId: d.appointmentId, state: 'held', holdExpiresAt: d.holdExpiresAt };
      return withTaken(doc, d.slot, taken);
    }
    case 'PaymentConfirmed':
      return moved(doc, event.data.appointmentId, 'confirmed');
    case 'PatientCheckedIn':
      return moved(doc, event.data.appointmentId, 'checked_in');
    case 'NoShowMarked':
      return moved(doc, event.data.appointmentId, 'no_show');
    case 'HoldExpired':
    case 'AppointmentCancelled':
      return freed(doc, event.data.appointmentId);
    default:
      return doc;
  }
}

const ms = (at: string): string => String(Date.parse(at));

/**
 * Pure: the appointment, day-list and patient-list writes of a slot event (the schedule hash's own
 * fields are written by read-model.ts). `view` is the schedule after the event. A forgotten
 * patient's waitlist entry is written anonymous and kept off any patient list (docs/adr/0010).
 */
export function slotAppointmentOps(
  view: ScheduleView,
  event: ScheduleStreamEvent,
  keys: Keyspace,
  forgotten: ReadonlySet<string>,
): RedisOp[] {
  switch (event.type) {
    case 'SlotTaken': {
      const d = event.data;
      const ops: RedisOp[] = [
        {
          cmd: 'HSET',
          key: keys.appointment(d.appointmentId),
          args: [
            'slot',
            String(d.slot),
            'slotStartsAt',
            d.slotStartsAt,
            'channel',
            d.channel,
            'source',
            d.source,
            'amount',
            String(d.amount),
            'takenAt',
            d.takenAt,
            ...(d.holdExpiresAt === null
              ? ['status', 'confirmed', 'confirmedAt', d.takenAt]
              : ['status', 'held', 'holdExpiresAt', d.holdExpiresAt]),
          ],
        },
        {
          cmd: 'ZADD',
          key: keys.scheduleAppointments(d.scheduleId),
          args: [String(d.slot), d.appointmentId],
        },
      ];
      if (!forgotten.has(d.patientRef)) {
        // The patient's list is ordered by when they are seen: the slot's time, not the session's.
        ops.push({
          cmd: 'ZADD',
          key: keys.patientAppointments(d.patientRef),
          args: [ms(d.slotStartsAt), d.appointmentId],
        });
      }
      return ops;
    }
    case 'PaymentConfirmed':
      return [status(keys, event.data.appointmentId, 'confirmed', 'confirmedAt', event.data.confirmedAt)];
    case 'HoldExpired':
      return [status(keys, event.data.appointmentId, 'expired', 'expiredAt', event.data.expiredAt)];
    case 'PatientCheckedIn':
      return [status(keys, event.data.appointmentId, 'checked_in', 'checkedInAt', event.data.checkedInAt)];
    case 'NoShowMarked':
      return [status(keys, event.data.appointmentId, 'no_show', 'noShowAt', event.data.markedAt)];
    case 'RefundNeeded':
      return [
        {
          cmd: 'HSET',
          key: keys.appointment(event.data.appointmentId),
          args: ['refund', 'needed', 'refundRecordedAt', event.data.recordedAt],
        },
      ];
    case 'WaitlistJoined':
      return waitlistJoinedOps(view, event.data, keys, forgotten);
    case 'WaitlistLeft':
      return [status(keys, event.data.entryId, 'left', 'leftAt', event.data.leftAt)];
    default:
      return [];
  }
}

const status = (keys: Keyspace, appointmentId: string, to: string, field: string, at: string): RedisOp => ({
  cmd: 'HSET',
  key: keys.appointment(appointmentId),
  args: ['status', to, field, at],
});

type Joined = Extract<ScheduleStreamEvent, { type: 'WaitlistJoined' }>['data'];

function waitlistJoinedOps(
  view: ScheduleView,
  d: Joined,
  keys: Keyspace,
  forgotten: ReadonlySet<string>,
): RedisOp[] {
  const anonymous = forgotten.has(d.patientRef);
  const ops: RedisOp[] = [
    {
      cmd: 'HSET',
      key: keys.appointment(d.entryId),
      args: [
        ...appointmentFacts(view),
        'appointmentId',
        d.entryId,
        'status',
        'waitlisted',
        'channel',
        d.channel,
        'joinedAt',
        d.joinedAt,
        ...(anonymous ? [] : ['patientRef', d.patientRef, 'patient', d.patient]),
      ],
    },
  ];
  if (!anonymous) {
    ops.push({
      cmd: 'ZADD',
      key: keys.patientAppointments(d.patientRef),
      args: [ms(view.sessionStartsAt), d.entryId],
    });
  }
  return ops;
}
