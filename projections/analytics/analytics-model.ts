/**
 * The analysts' index: one document per appointment, denormalised with the catalog so the
 * questions of docs/analytics.md are single queries (no joins). Pure parts only — the mapping,
 * the document, `evolveAnalytics` and `withCatalog`; analytics-writer.ts does the I/O.
 *
 * Monthly indices `<alias>-YYYY-MM` by the session's date, all behind the read alias; an
 * appointment's session never moves, so its document stays in one index for life. Every write
 * uses external versioning with version = the schedule stream's revision of the last event
 * folded in (docs/adr/0019).
 */
import { HOSPITAL_UTC_OFFSET } from '../../domain/session-time.ts';
import type { IndexDefinition } from '../../platform/search/index.ts';
import {
  type AppointmentEvent,
  docToEvolve,
  type Pseudonymise,
  type ScheduleFacts,
} from '../search/appointments-model.ts';

export { factsOf, isAppointmentEvent } from '../search/appointments-model.ts';
export type { AppointmentEvent, ScheduleFacts } from '../search/appointments-model.ts';

/** `2026-03-14` → `<alias>-2026-03`. */
export const monthlyIndexName = (alias: string, sessionDate: string): string =>
  `${alias}-${sessionDate.slice(0, 7)}`;

/** `<alias>-2026-03` → `2026-03` (undefined for any other name). */
export function monthOfIndex(alias: string, index: string): string | undefined {
  if (!index.startsWith(`${alias}-`)) return undefined;
  const month = index.slice(alias.length + 1);
  return /^\d{4}-(0[1-9]|1[0-2])$/.test(month) ? month : undefined;
}

const keyword = { type: 'keyword' } as const;
const date = { type: 'date' } as const;
/** Grouped by as is (terms), searchable as words (`.text`). */
const name = { type: 'keyword', fields: { text: { type: 'text', analyzer: 'cjk' } } } as const;

/** Strict: a field the code does not know is a rejected write, never a silently guessed mapping. */
export function analyticsIndexDefinition(alias: string): IndexDefinition {
  return {
    settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '5s' },
    aliases: { [alias]: {} },
    mappings: {
      dynamic: 'strict',
      properties: {
        appointmentId: keyword,
        scheduleId: keyword,
        institutionId: keyword,
        institutionName: name,
        city: keyword,
        district: keyword,
        institutionLevel: keyword,
        institutionType: keyword,
        departmentId: keyword,
        departmentName: name,
        departmentCategory: keyword,
        doctorId: keyword,
        doctorName: name,
        doctorTitle: keyword,
        sessionDate: { type: 'date', format: 'yyyy-MM-dd' },
        period: keyword,
        sessionStartsAt: date,
        /** When the patient is seen: the slot's start on a numbered schedule, else the session's. */
        startsAt: date,
        /** Hour (0-23) and ISO weekday (1 = Monday) of `startsAt`, in the hospital's time (UTC+8). */
        sessionHour: { type: 'byte' },
        sessionWeekday: { type: 'byte' },
        fee: { type: 'long' },
        channel: keyword,
        status: keyword,
        bookedAt: date,
        /** Hours from booking to the session's start. */
        leadTimeHours: { type: 'double' },
        confirmedAt: date,
        cancelledAt: date,
        cancelledBy: keyword,
        expiredAt: date,
        checkedInAt: date,
        noShowAt: date,
        transitions: { type: 'nested', properties: { status: keyword, at: date } },
        /** The vault's pseudonym (docs/adr/0010); null once the patient is forgotten. */
        patientPseudonym: keyword,
      },
    },
  };
}

export type AnalyticsStatus =
  'active' | 'cancelled' | 'held' | 'confirmed' | 'expired' | 'checked_in' | 'no_show';

/** A step of the appointment's life: `booked`, `held`, `confirmed`, `cancelled`, `expired`, … */
export interface Transition {
  status: string;
  at: string;
}

export interface InstitutionFacts {
  name: string;
  city: string | null;
  district: string | null;
  level: string | null;
  type: string | null;
}

export interface DepartmentFacts {
  name: string;
  category: string | null;
}

export interface DoctorFacts {
  name: string;
  title: string | null;
}

/** What the catalog says about the ids of a batch (ids it does not know are absent). */
export interface CatalogFacts {
  institutions: Map<string, InstitutionFacts>;
  departments: Map<string, DepartmentFacts>;
  doctors: Map<string, DoctorFacts>;
}

export interface AnalyticsDoc {
  appointmentId: string;
  scheduleId: string;
  institutionId: string;
  institutionName: string;
  city: string | null;
  district: string | null;
  institutionLevel: string | null;
  institutionType: string | null;
  departmentId: string;
  departmentName: string;
  departmentCategory: string | null;
  doctorId: string;
  doctorName: string;
  doctorTitle: string | null;
  sessionDate: string;
  period: string;
  sessionStartsAt: string;
  startsAt: string;
  sessionHour: number;
  sessionWeekday: number;
  fee: number;
  channel: string | null;
  status: AnalyticsStatus;
  bookedAt: string | null;
  leadTimeHours: number | null;
  confirmedAt: string | null;
  cancelledAt: string | null;
  cancelledBy: string | null;
  expiredAt: string | null;
  checkedInAt: string | null;
  noShowAt: string | null;
  transitions: Transition[];
  patientPseudonym: string | null;
}

const OFFSET_MS = Number(HOSPITAL_UTC_OFFSET.slice(1, 3)) * 3_600_000;

/** Hour (0-23) and ISO weekday (1 = Monday … 7 = Sunday) of an instant in the hospital's time. */
export function hospitalClock(instant: string): { hour: number; weekday: number } {
  const local = new Date(Date.parse(instant) + OFFSET_MS);
  return { hour: local.getUTCHours(), weekday: ((local.getUTCDay() + 6) % 7) + 1 };
}

const hoursBetween = (from: string, to: string): number =>
  Math.round((Date.parse(to) - Date.parse(from)) / 36_000) / 100;

function fromFacts(facts: ScheduleFacts, appointmentId: string, pseudonym: string | null): AnalyticsDoc {
  const clock = hospitalClock(facts.sessionStartsAt);
  return {
    appointmentId,
    scheduleId: facts.scheduleId,
    institutionId: facts.institutionId,
    institutionName: facts.institutionId,
    city: null,
    district: null,
    institutionLevel: null,
    institutionType: null,
    departmentId: facts.departmentId,
    departmentName: facts.departmentId,
    departmentCategory: null,
    doctorId: facts.doctorId,
    doctorName: facts.doctorId,
    doctorTitle: null,
    sessionDate: facts.date,
    period: facts.period,
    sessionStartsAt: facts.sessionStartsAt,
    startsAt: facts.sessionStartsAt,
    sessionHour: clock.hour,
    sessionWeekday: clock.weekday,
    fee: facts.fee,
    channel: null,
    status: 'active',
    bookedAt: null,
    leadTimeHours: null,
    confirmedAt: null,
    cancelledAt: null,
    cancelledBy: null,
    expiredAt: null,
    checkedInAt: null,
    noShowAt: null,
    transitions: [],
    patientPseudonym: pseudonym,
  };
}

/** Appends a step once: a redelivered event folded again leaves the history as it was. */
function step(doc: AnalyticsDoc, status: string, at: string): Transition[] {
  if (doc.transitions.some((t) => t.status === status && t.at === at)) return doc.transitions;
  return [...doc.transitions, { status, at }].sort((a, b) => a.at.localeCompare(b.at));
}

/**
 * Pure: the appointment's analytics document after `event`. `facts` (the schedule's
 * ScheduleOpened) are needed when there is no document yet.
 */
export function evolveAnalytics(
  doc: AnalyticsDoc | null,
  event: AppointmentEvent,
  facts: ScheduleFacts | undefined,
  pseudonymise: Pseudonymise,
): AnalyticsDoc {
  const base = docToEvolve(doc, event, facts, pseudonymise, fromFacts);
  switch (event.type) {
    case 'AppointmentBooked': {
      const at = event.data.bookedAt;
      return {
        ...base,
        status: 'active',
        bookedAt: at,
        leadTimeHours: hoursBetween(at, base.sessionStartsAt),
        transitions: step(base, 'booked', at),
      };
    }
    case 'AppointmentCancelled': {
      const at = event.data.cancelledAt;
      return {
        ...base,
        status: 'cancelled',
        cancelledAt: at,
        cancelledBy: event.data.cancelledBy.role,
        transitions: step(base, 'cancelled', at),
      };
    }
    case 'SlotTaken': {
      const { takenAt, slotStartsAt, holdExpiresAt, channel } = event.data;
      const clock = hospitalClock(slotStartsAt);
      const confirmed = holdExpiresAt === null;
      return {
        ...base,
        status: confirmed ? 'confirmed' : 'held',
        channel,
        startsAt: slotStartsAt,
        sessionHour: clock.hour,
        sessionWeekday: clock.weekday,
        confirmedAt: confirmed ? takenAt : base.confirmedAt,
        transitions: step(base, confirmed ? 'confirmed' : 'held', takenAt),
      };
    }
    case 'PaymentConfirmed':
      return {
        ...base,
        status: 'confirmed',
        confirmedAt: event.data.confirmedAt,
        transitions: step(base, 'confirmed', event.data.confirmedAt),
      };
    case 'HoldExpired':
      return {
        ...base,
        status: 'expired',
        expiredAt: event.data.expiredAt,
        transitions: step(base, 'expired', event.data.expiredAt),
      };
    case 'PatientCheckedIn':
      return {
        ...base,
        status: 'checked_in',
        checkedInAt: event.data.checkedInAt,
        transitions: step(base, 'checked_in', event.data.checkedInAt),
      };
    case 'NoShowMarked':
      return {
        ...base,
        status: 'no_show',
        noShowAt: event.data.markedAt,
        transitions: step(base, 'no_show', event.data.markedAt),
      };
    default:
      return base;
  }
}

/** The catalog's current view of the document's institution, department and doctor (ids it does not know keep what the document has). */
export function withCatalog(doc: AnalyticsDoc, catalog: CatalogFacts): AnalyticsDoc {
  const i = catalog.institutions.get(doc.institutionId);
  const dep = catalog.departments.get(doc.departmentId);
  const doctor = catalog.doctors.get(doc.doctorId);
  return {
    ...doc,
    ...(i ? institutionFields(i) : {}),
    ...(dep ? departmentFields(dep) : {}),
    ...(doctor ? doctorFields(doctor) : {}),
  };
}

export const institutionFields = (i: InstitutionFacts) => ({
  institutionName: i.name,
  city: i.city,
  district: i.district,
  institutionLevel: i.level,
  institutionType: i.type,
});

export const departmentFields = (d: DepartmentFacts) => ({
  departmentName: d.name,
  departmentCategory: d.category,
});

export const doctorFields = (d: DoctorFacts) => ({ doctorName: d.name, doctorTitle: d.title });
