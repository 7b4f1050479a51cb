/**
 * Versions of the schedule's event schemas, and the upcasters that lift an old version to the
 * latest one (docs/adr/0009-event-versions.md). Pure: both the write side (folding a stream) and
 * the projectors (decoding what they read) call `upcast` before validating with the latest schema,
 * so the decider and the read models only ever see the latest shape.
 *
 * - An additive change (a new optional field, a new event type) keeps the version.
 * - A breaking change bumps `latestSchemaVersions[type]`, keeps the old schema in an upcaster
 *   from N to N+1, and writes a new JSON Schema (npm run contracts:generate).
 * - A version above the latest (a newer producer) is refused, never guessed at.
 */
import { z } from 'zod';
import { scheduleEventSchemas, type ScheduleEventType } from './schedule-events.ts';

/** The version this build writes of each event type (the shape of `scheduleEventSchemas`). */
export const latestSchemaVersions: Readonly<Record<ScheduleEventType, number>> = {
  ScheduleOpened: 1,
  AppointmentBooked: 2,
  AppointmentCancelled: 2,
  CapacityChanged: 1,
  ScheduleClosed: 1,
};

/** Where a stored event keeps its version: `metadata.schemaVersion`. */
export const SCHEMA_VERSION_KEY = 'schemaVersion';

/** Events stored before versions existed carry none: they are version 1 by definition. */
export const UNVERSIONED = 1;

/** The version recorded in an event's metadata (`unknown` as read: `upcast` checks it). */
export const recordedSchemaVersion = (metadata: Readonly<Record<string, unknown>> | undefined): unknown =>
  metadata && Object.hasOwn(metadata, SCHEMA_VERSION_KEY) ? metadata[SCHEMA_VERSION_KEY] : UNVERSIONED;

/** Lifts the data of version `from` of `type` to version `from + 1`. */
export interface Upcaster {
  type: string;
  from: number;
  /** The shape of version `from`: the data is checked against it before `up` runs. */
  schema: z.ZodType;
  up(data: unknown): unknown;
}

/** Typed construction: `up` receives the data as version `from`'s schema parsed it. */
export const defineUpcaster = <S extends z.ZodType>(upcaster: {
  type: string;
  from: number;
  schema: S;
  up: (data: z.output<S>) => unknown;
}): Upcaster => ({ ...upcaster, up: (data) => upcaster.up(data as z.output<S>) });

/** The data in the latest version's shape (not validated yet), or why it cannot be. */
export type Upcasted = { ok: true; data: unknown } | { ok: false; reason: string };

export interface UpcasterRegistry {
  /** The latest version of a type; undefined for a type this build does not know. */
  latest(type: string): number | undefined;
  /** Every version of a type with its schema (oldest first), for the published contracts. */
  versions(type: string): { version: number; schema: z.ZodType }[];
  /**
   * The data of `version` of `type` lifted to the latest version. A type the registry does not
   * know passes through unchanged (the reader decides what to do with it); a version that is not
   * a positive integer, or above the latest, is refused with a reason.
   */
  upcast(type: string, version: unknown, data: unknown): Upcasted;
}

const issuesOf = (error: z.ZodError): string =>
  error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');

/** Throws at construction unless every version below the latest has exactly one upcaster. */
function checkChains(
  latest: Readonly<Record<string, number>>,
  byStep: ReadonlyMap<string, Upcaster>,
  upcasters: readonly Upcaster[],
): void {
  if (byStep.size !== upcasters.length) throw new Error('two upcasters for the same version of a type');
  for (const u of upcasters) {
    const top = latest[u.type];
    if (top === undefined || u.from < 1 || u.from >= top) {
      throw new Error(`upcaster from v${u.from} of ${u.type} does not lead to its latest version`);
    }
  }
  for (const [type, top] of Object.entries(latest)) {
    for (let v = 1; v < top; v++) {
      if (!byStep.has(`${type}@${v}`)) throw new Error(`no upcaster from v${v} of ${type}`);
    }
  }
}

/**
 * A registry over the latest versions and their schemas, with one upcaster per older version.
 * `latestSchemas[type]` is the shape of `latest[type]`.
 */
export function upcasterRegistry(
  latest: Readonly<Record<string, number>>,
  latestSchemas: Readonly<Record<string, z.ZodType>>,
  upcasters: readonly Upcaster[],
): UpcasterRegistry {
  const byStep = new Map(upcasters.map((u) => [`${u.type}@${u.from}`, u]));
  checkChains(latest, byStep, upcasters);
  const latestOf = (type: string): number | undefined =>
    Object.hasOwn(latest, type) ? latest[type] : undefined;

  return {
    latest: latestOf,
    versions(type) {
      const top = latestOf(type);
      const schema = latestSchemas[type];
      if (top === undefined || schema === undefined) return [];
      const older = [...byStep.values()].filter((u) => u.type === type).sort((a, b) => a.from - b.from);
      return [...older.map((u) => ({ version: u.from, schema: u.schema })), { version: top, schema }];
    },
    upcast(type, version, data) {
      const top = latestOf(type);
      if (top === undefined) return { ok: true, data };
      if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
        return { ok: false, reason: `invalid schema version ${JSON.stringify(version)} of ${type}` };
      }
      if (version > top) return { ok: false, reason: `unknown schema version ${version} of ${type}` };
      let current = data;
      for (let v = version; v < top; v++) {
        const step = byStep.get(`${type}@${v}`)!;
        const parsed = step.schema.safeParse(current);
        if (!parsed.success) {
          return {
            ok: false,
            reason: `${type} v${v} data does not match its schema: ${issuesOf(parsed.error)}`,
          };
        }
        current = step.up(parsed.data);
      }
      return { ok: true, data: current };
    },
  };
}

const actorV1 = z.object({ id: z.string(), role: z.enum(['patient', 'hospital', 'admin']) });

/**
 * v1 of the appointment events carried the patient's id in clear (docs/adr/0010). Lifting them to
 * v2 needs the patient's reference and sealed identity, which only the vault (I/O) can produce:
 * the reader resolves them first and attaches them to the data (`withResolvedPatient`), and this
 * pure step then drops the clear id. Unresolved, the result lacks `patientRef` and fails the v2
 * schema, so a reader that forgot to resolve refuses the event rather than leaking the id.
 */
const appointmentBookedV1 = z.looseObject({
  scheduleId: z.string().min(1),
  appointmentId: z.string().min(1),
  patientId: z.string().min(1),
  bookedAt: z.string().min(1),
});

const appointmentCancelledV1 = z.looseObject({
  scheduleId: z.string().min(1),
  appointmentId: z.string().min(1),
  patientId: z.string().min(1),
  reason: z.string().nullable(),
  cancelledBy: actorV1,
  cancelledAt: z.string().min(1),
});

/** The reference (and seal) the reader attached to a v1 event's data, kept by the loose v1 schemas. */
const attached = (data: Record<string, unknown>) => ({
  patientRef: typeof data.patientRef === 'string' ? data.patientRef : undefined,
  patient: typeof data.patient === 'string' ? data.patient : undefined,
});

/** v1 → v2 of the appointment events: the clear id out, the attached reference (and seal) in. */
export const patientUpcasters: readonly Upcaster[] = [
  defineUpcaster({
    type: 'AppointmentBooked',
    from: 1,
    schema: appointmentBookedV1,
    up: (v1) => {
      const { scheduleId, appointmentId, bookedAt } = v1;
      return { scheduleId, appointmentId, ...attached(v1), bookedAt };
    },
  }),
  defineUpcaster({
    type: 'AppointmentCancelled',
    from: 1,
    schema: appointmentCancelledV1,
    up: (v1) => {
      const { scheduleId, appointmentId, reason, cancelledBy, cancelledAt } = v1;
      const { patientRef } = attached(v1);
      return {
        scheduleId,
        appointmentId,
        patientRef,
        reason,
        // Only the holder may cancel as a patient, so a patient actor is the holder: their reference.
        cancelledBy: cancelledBy.role === 'patient' ? { id: patientRef, role: 'patient' } : cancelledBy,
        cancelledAt,
      };
    },
  }),
];

/** The patient id a stored event carries in clear (v1 appointment events), if any. */
export function clearPatientIdOf(event: {
  type: string;
  data: unknown;
  metadata?: Readonly<Record<string, unknown>> | undefined;
}): string | undefined {
  if (event.type !== 'AppointmentBooked' && event.type !== 'AppointmentCancelled') return undefined;
  if (recordedSchemaVersion(event.metadata) !== 1) return undefined;
  const id = (event.data as { patientId?: unknown } | null)?.patientId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** What the vault resolved for a clear patient id: the reference and the sealed `{ patientId }`. */
export interface ResolvedPatient {
  patientRef: string;
  patient: string;
}

/**
 * Pure: a v1 appointment event lifted to the latest version with the resolved patient, its
 * metadata's patient actor replaced by the reference and its version restamped. Anything else
 * (or an event that does not upcast) comes back unchanged.
 */
export function withResolvedPatient<
  E extends { type: string; data: unknown; metadata: Readonly<Record<string, unknown>> },
>(event: E, resolved: ResolvedPatient): E {
  const clear = clearPatientIdOf(event);
  if (clear === undefined) return event;
  const upcast = scheduleEventUpcasters.upcast(event.type, 1, {
    ...(event.data as object),
    ...resolved,
  });
  if (!upcast.ok) return event;
  const actor = event.metadata.actor as { id?: unknown; role?: unknown } | undefined;
  const metadata: Record<string, unknown> = {
    ...event.metadata,
    [SCHEMA_VERSION_KEY]: latestSchemaVersions[event.type as ScheduleEventType],
  };
  if (actor?.role === 'patient') metadata.actor = { id: resolved.patientRef, role: 'patient' };
  return { ...event, data: upcast.data, metadata };
}

/** The schedule's upcasters: v1 → v2 of the appointment events (patient ids sealed). */
export const scheduleEventUpcasters: UpcasterRegistry = upcasterRegistry(
  latestSchemaVersions,
  scheduleEventSchemas,
  patientUpcasters,
);

/** The latest shape of a stored schedule event's data (not validated yet), or why it has none. */
export const upcastScheduleEvent = (event: {
  type: string;
  data: unknown;
  metadata?: Readonly<Record<string, unknown>> | undefined;
}): Upcasted => scheduleEventUpcasters.upcast(event.type, recordedSchemaVersion(event.metadata), event.data);

/** The metadata an event of `type` is stored with: the caller's plus the version written. */
export const stampSchemaVersion = <M extends object>(
  type: ScheduleEventType,
  metadata: M,
): M & { schemaVersion: number } => ({ ...metadata, [SCHEMA_VERSION_KEY]: latestSchemaVersions[type] });
