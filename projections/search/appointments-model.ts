/**
 * The analysts' `appointments` index: one document per appointment. Pure parts only — the
 * mapping, the document and `evolveAppointment`; search-writer.ts does the I/O.
 *
 * Versioned index `appointments_v{N}` behind the alias `appointments`; every write uses external
 * versioning with version = the schedule stream's revision of the event (all of an appointment's
 * events are in its schedule's stream, so the version only grows), so redelivered and replayed
 * events are rejected by the engine as stale.
 */
import type { AppointmentBooked, AppointmentCancelled, ScheduleOpened } from '../../domain/schedule.ts';
import type {
  HoldExpired,
  NoShowMarked,
  PatientCheckedIn,
  PaymentConfirmed,
  SlotTaken,
} from '../../domain/slot-events.ts';
import type { ScheduleStreamEvent } from '../../domain/slot-state.ts';
import type { IndexDefinition } from '../../platform/search/index.ts';

export const DEFAULT_APPOINTMENTS_ALIAS = 'appointments';

export const versionedIndexName = (alias: string, version: number): string => `${alias}_v${version}`;

/** `appointments_v7` → 7 (undefined for a name that is not a version of `alias`). */
export function indexVersion(alias: string, index: string): number | undefined {
  const m = new RegExp(`^${alias.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_v(\\d+)$`).exec(index);
  return m?.[1] ? Number(m[1]) : undefined;
}

const keyword = { type: 'keyword' } as const;
const date = { type: 'date' } as const;
const named = { type: 'text', fields: { raw: { type: 'keyword', ignore_above: 256 } } } as const;

export const appointmentsIndexDefinition: IndexDefinition = {
  settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '1s' },
  mappings: {
    dynamic: 'strict',
    properties: {
      appointmentId: keyword,
      scheduleId: keyword,
      institutionId: keyword,
      institutionName: named,
      departmentId: keyword,
      departmentName: named,
      doctorId: keyword,
      doctorName: named,
      date: { type: 'date', format: 'yyyy-MM-dd' },
      period: keyword,
      sessionStartsAt: date,
      fee: { type: 'long' },
      status: keyword,
      bookedAt: date,
      cancelledAt: date,
      cancelledBy: keyword,
      /**
       * HMAC-SHA256(the patient's data key, 'analytics-pseudonym'): countable and joinable, not
       * reversible; null once the patient is forgotten (docs/adr/0010).
       */
      patientPseudonym: keyword,
    },
  },
};

export type ScheduleFacts = Pick<
  ScheduleOpened['data'],
  'scheduleId' | 'doctorId' | 'institutionId' | 'departmentId' | 'date' | 'period' | 'sessionStartsAt' | 'fee'
>;

export const factsOf = (opened: ScheduleOpened): ScheduleFacts => {
  const { scheduleId, doctorId, institutionId, departmentId, date, period, sessionStartsAt, fee } =
    opened.data;
  return { scheduleId, doctorId, institutionId, departmentId, date, period, sessionStartsAt, fee };
};

export interface AppointmentDoc {
  appointmentId: string;
  scheduleId: string;
  institutionId: string;
  institutionName: string;
  departmentId: string;
  departmentName: string;
  doctorId: string;
  doctorName: string;
  date: string;
  period: string;
  sessionStartsAt: string;
  fee: number;
  /**
   * `active` / `cancelled` on any schedule; on a numbered one (docs/adr/0012) `held` →
   * `confirmed` → `checked_in` / `no_show`, or `expired` / `cancelled` (a keyword: no new mapping).
   */
  status: 'active' | 'cancelled' | 'held' | 'confirmed' | 'expired' | 'checked_in' | 'no_show';
  bookedAt: string | null;
  cancelledAt: string | null;
  cancelledBy: string | null;
  patientPseudonym: string | null;
}

export interface Names {
  institutionName: string;
  departmentName: string;
  doctorName: string;
}

/** The pseudonym of a patient by reference (resolved by the vault beforehand); null when forgotten. */
export type Pseudonymise = (patientRef: string) => string | null;

/** Names default to the ids until the catalog resolves them. */
const idNames = (f: ScheduleFacts): Names => ({
  institutionName: f.institutionId,
  departmentName: f.departmentId,
  doctorName: f.doctorId,
});

function fromFacts(
  facts: ScheduleFacts,
  appointmentId: string,
  patientPseudonym: string | null,
): AppointmentDoc {
  return {
    appointmentId,
    scheduleId: facts.scheduleId,
    institutionId: facts.institutionId,
    departmentId: facts.departmentId,
    doctorId: facts.doctorId,
    ...idNames(facts),
    date: facts.date,
    period: facts.period,
    sessionStartsAt: facts.sessionStartsAt,
    fee: facts.fee,
    status: 'active',
    bookedAt: null,
    cancelledAt: null,
    cancelledBy: null,
    patientPseudonym,
  };
}

export type AppointmentEvent =
  | AppointmentBooked
  | AppointmentCancelled
  | SlotTaken
  | PaymentConfirmed
  | HoldExpired
  | PatientCheckedIn
  | NoShowMarked;

const appointmentEventTypes: ReadonlySet<string> = new Set<AppointmentEvent['type']>([
  'AppointmentBooked',
  'AppointmentCancelled',
  'SlotTaken',
  'PaymentConfirmed',
  'HoldExpired',
  'PatientCheckedIn',
  'NoShowMarked',
]);

/** The events that change an appointment's document. */
export const isAppointmentEvent = (e: ScheduleStreamEvent): e is AppointmentEvent =>
  appointmentEventTypes.has(e.type);

/**
 * The document `event` folds onto: `doc`, or a new one built by `build` from the schedule's facts
 * (shared with the analytics document). Without either the event cannot be placed: it throws, and
 * the writer poisons the appointment's events.
 */
export function docToEvolve<D>(
  doc: D | null,
  event: AppointmentEvent,
  facts: ScheduleFacts | undefined,
  pseudonymise: Pseudonymise,
  build: (facts: ScheduleFacts, appointmentId: string, pseudonym: string | null) => D,
): D {
  const d = event.data;
  if (doc) return doc;
  if (facts) return build(facts, d.appointmentId, pseudonymise(d.patientRef));
  throw new Error(`no schedule facts for ${d.scheduleId}: cannot build appointment ${d.appointmentId}`);
}

/**
 * Pure: the appointment's document after `event`. `facts` (from the schedule's ScheduleOpened)
 * is needed when there is no document yet; a cancellation without a document yields one with an
 * unknown `bookedAt` (null).
 */
export function evolveAppointment(
  doc: AppointmentDoc | null,
  event: AppointmentEvent,
  facts: ScheduleFacts | undefined,
  pseudonymise: Pseudonymise,
): AppointmentDoc {
  const base = docToEvolve(doc, event, facts, pseudonymise, fromFacts);
  switch (event.type) {
    case 'AppointmentBooked':
      return {
        ...base,
        status: 'active',
        bookedAt: event.data.bookedAt,
        cancelledAt: null,
        cancelledBy: null,
      };
    case 'AppointmentCancelled':
      return {
        ...base,
        status: 'cancelled',
        cancelledAt: event.data.cancelledAt,
        cancelledBy: event.data.cancelledBy.role,
      };
    case 'SlotTaken':
      return { ...base, status: event.data.holdExpiresAt === null ? 'confirmed' : 'held' };
    case 'PaymentConfirmed':
      return { ...base, status: 'confirmed' };
    case 'HoldExpired':
      return { ...base, status: 'expired' };
    case 'PatientCheckedIn':
      return { ...base, status: 'checked_in' };
    case 'NoShowMarked':
      return { ...base, status: 'no_show' };
    default:
      return base;
  }
}

export const withNames = (doc: AppointmentDoc, names: Partial<Names>): AppointmentDoc => ({
  ...doc,
  institutionName: names.institutionName ?? doc.institutionName,
  departmentName: names.departmentName ?? doc.departmentName,
  doctorName: names.doctorName ?? doc.doctorName,
});
