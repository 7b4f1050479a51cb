/**
 * What the query API needs of PostgreSQL to answer GET /v1/appointments/{id} safely
 * (docs/adr/0010): the command side's `appointment_index` (does it exist, whose institution, whose
 * holder — one indexed query, so the answer to "may you see it" never waits on the projectors),
 * the event store's head (a Booking-Checkpoint beyond it was never issued; asked of the store's
 * port, so the checkpoint stays opaque here) and the patient vault (a patient's reference, and the
 * identity it reveals to an authorised reader).
 */
import { checkpointParts, compareCheckpoints } from '../platform/event-store/checkpoint.ts';
import type { Checkpoint, EventStore } from '../platform/event-store/event-store.ts';
import { type AuditEntry, PgAuditTrail } from '../platform/audit.ts';
import type { PatientVault } from '../platform/patient-vault.ts';
import { isDatabaseUnavailable, type Queryable } from '../platform/pg.ts';
import { AppError } from '../platform/http/errors.ts';
import { findIndexedAppointment, type IndexedAppointment } from '../platform/appointment-index.ts';

export interface AppointmentAccessOptions {
  /** How long the event store's head is reused. Default 50 ms. */
  headTtlMs?: number;
  now?: () => number;
}

/** What the query API asks of the event store: its head, and which stream a checkpoint is in. */
export type EventStoreHead = Pick<EventStore<unknown>, 'head' | 'streamAt'>;

export class AppointmentAccess {
  readonly #db: Queryable;
  readonly #store: EventStoreHead;
  readonly #vault: Pick<PatientVault, 'refFor' | 'patientIdOf'>;
  readonly #headTtlMs: number;
  readonly #now: () => number;
  #head: { at: number; value: Promise<Checkpoint | undefined> } | undefined;
  readonly #trail: PgAuditTrail;

  constructor(
    db: Queryable,
    store: EventStoreHead,
    vault: Pick<PatientVault, 'refFor' | 'patientIdOf'>,
    opts: AppointmentAccessOptions = {},
  ) {
    this.#db = db;
    this.#store = store;
    this.#trail = new PgAuditTrail(db);
    this.#vault = vault;
    this.#headTtlMs = opts.headTtlMs ?? 50;
    this.#now = opts.now ?? Date.now;
  }

  /** A read of patient data by a hospital or an admin, in the audit trail (platform/audit.ts). */
  async audit(entry: AuditEntry): Promise<void> {
    await this.#trail.record([entry]);
  }

  find(appointmentId: string): Promise<IndexedAppointment | undefined> {
    return findIndexedAppointment(this.#db, appointmentId);
  }

  /**
   * Whether the store has reached `checkpoint`. The head is cached briefly; a checkpoint past the
   * cached head is checked once more against a fresh one (it may have just been issued).
   */
  async issued(checkpoint: Checkpoint): Promise<boolean> {
    checkpointParts(checkpoint);
    const within = (head: Checkpoint | undefined) =>
      head !== undefined && compareCheckpoints(checkpoint, head) <= 0;
    if (this.#head && this.#now() - this.#head.at < this.#headTtlMs && within(await this.#head.value)) {
      return true;
    }
    this.#head = { at: this.#now(), value: this.#store.head() };
    return within(await this.#head.value);
  }

  /** The stream of the event at `checkpoint` (the store's port answers; undefined: none there). */
  streamAt(checkpoint: Checkpoint): Promise<string | undefined> {
    return this.#store.streamAt(checkpoint);
  }

  /** The patient's reference; undefined when they have no key (never booked, or forgotten). */
  patientRefOf(patientId: string): Promise<string | undefined> {
    return this.#vault.refFor(patientId, { create: false });
  }

  /** The id a sealed identity holds; undefined once the patient is forgotten. */
  patientIdOf(patientRef: string, sealed: string): Promise<string | undefined> {
    return this.#vault.patientIdOf(patientRef, sealed);
  }
}

/** PostgreSQL unreachable → 503 dependency_unavailable (retry), not a 500. */
export async function guardPostgres<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (!isDatabaseUnavailable(err)) throw err;
    throw new AppError('dependency_unavailable', 'The database is unavailable; retry shortly', {
      headers: { 'Retry-After': '2' },
      cause: err,
    });
  }
}
