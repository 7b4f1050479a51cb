/**
 * The thin I/O half of the `appointments` index: per batch, fold each appointment's events with
 * the pure `evolveAppointment`, resolve names, and send ONE bulk request whose operations carry
 * version = stream revision (external versioning). A redelivered or replayed event is a 409 the
 * engine reports as stale: harmless.
 *
 * Reads it needs (all batched and cached): the schedule's facts (its ScheduleOpened, from the
 * batch or the event store, LRU-cached: they never change) and, for a cancellation whose booking
 * is not in the same batch, the current document (a real-time GET; if the index does not have it
 * — e.g. right after an alias switch — the booking is read back from the event store).
 */
import { LRUCache } from 'lru-cache';
import { PATIENT_STREAM_PREFIX, parsePatientForgotten } from '../../domain/patient-events.ts';
import type { ScheduleStreamEvent } from '../../domain/slot-state.ts';
import { sealLegacyPatients } from '../../platform/legacy-patients.ts';
import type { ProjectorPatients } from '../../platform/patient-vault.ts';
import type { Logger } from '../../platform/logger.ts';
import type { BulkOperation, SearchEngine } from '../../platform/search/index.ts';
import type { StreamHistory, WriteItem } from '../redis/redis-writer.ts';
import { TransientError } from '../runtime/errors.ts';
import { parseStreamEvent } from '../redis/stream-events.ts';
import { SCHEDULE_STREAM_PREFIX } from '../schedule-events.ts';
import {
  type AppointmentDoc,
  type AppointmentEvent,
  evolveAppointment,
  factsOf,
  isAppointmentEvent,
  type ScheduleFacts,
  withNames,
} from './appointments-model.ts';
import type { NameResolver } from './names.ts';

export interface SearchWriterOptions {
  engine: SearchEngine;
  /** Alias (live projector) or concrete index (rebuild) the writes go to. */
  target: string;
  history: StreamHistory;
  names: NameResolver;
  /** The vault: pseudonyms derive from each patient's data key; v1 records are lifted to v2. */
  patients: ProjectorPatients;
  logger: Logger;
}

export interface SearchWriteResult<S> {
  applied: number;
  stale: number;
  ignored: number;
  poison: { source: S; reason: string }[];
}

interface Pending<S> {
  appointmentId: string;
  scheduleId: string;
  streamId: string;
  events: { event: AppointmentEvent; rev: number; source?: S }[];
}

const streamOf = (scheduleId: string) => `${SCHEDULE_STREAM_PREFIX}${scheduleId}`;

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

export class AppointmentsSearchWriter {
  readonly #opts: SearchWriterOptions;
  readonly #facts = new LRUCache<string, ScheduleFacts>({ max: 100_000 });

  constructor(opts: SearchWriterOptions) {
    this.#opts = opts;
  }

  get target(): string {
    return this.#opts.target;
  }

  async write<S>(
    items: readonly WriteItem<S>[],
    opts: { index?: string } = {},
  ): Promise<SearchWriteResult<S>> {
    const index = opts.index ?? this.#opts.target;
    const result: SearchWriteResult<S> = { applied: 0, stale: 0, ignored: 0, poison: [] };
    const byAppointment = new Map<string, Pending<S>>();
    const forgotten: string[] = [];
    const envelopes = await sealLegacyPatients(
      items.map((i) => i.envelope),
      this.#opts.patients,
    );
    for (const [i, { source }] of items.entries()) {
      const envelope = envelopes[i]!;
      const forget = envelope.streamId.startsWith(PATIENT_STREAM_PREFIX)
        ? parsePatientForgotten(envelope)
        : undefined;
      if (forget) {
        this.#opts.patients.invalidate(forget.data.patientRef);
        forgotten.push(forget.data.pseudonym);
        continue;
      }
      const parsed = parseStreamEvent(envelope);
      if (parsed.kind === 'poison') {
        if (source !== undefined) result.poison.push({ source, reason: parsed.reason });
        continue;
      }
      if (parsed.kind === 'ignored') {
        result.ignored += 1;
        continue;
      }
      const event: ScheduleStreamEvent = parsed.event;
      if (event.type === 'ScheduleOpened') {
        this.#facts.set(event.data.scheduleId, factsOf(event));
        result.ignored += 1;
        continue;
      }
      if (!isAppointmentEvent(event)) {
        result.ignored += 1;
        continue;
      }
      const { appointmentId, scheduleId } = event.data;
      let pending = byAppointment.get(appointmentId);
      if (!pending) {
        pending = { appointmentId, scheduleId, streamId: envelope.streamId, events: [] };
        byAppointment.set(appointmentId, pending);
      }
      pending.events.push({ event, rev: envelope.revision, ...(source !== undefined ? { source } : {}) });
    }
    if (byAppointment.size === 0) return this.#forget(forgotten, index, result);

    const all = [...byAppointment.values()];
    const pseudonyms = await this.#opts.patients.pseudonyms(
      all.flatMap((p) => p.events.map((e) => e.event.data.patientRef)),
    );
    const pseudonymise = (ref: string) => pseudonyms.get(ref) ?? null;
    await this.#loadFacts([...new Set(all.map((p) => p.scheduleId))]);
    const current = await this.#currentDocs(
      all.filter((p) => p.events[0]?.event.type !== 'AppointmentBooked'),
      index,
    );

    const docs: { pending: Pending<S>; doc: AppointmentDoc; version: number }[] = [];
    for (const pending of all) {
      pending.events.sort((a, b) => a.rev - b.rev);
      try {
        let doc = current.get(pending.appointmentId) ?? null;
        for (const { event } of pending.events) {
          doc = evolveAppointment(doc, event, this.#facts.get(pending.scheduleId), pseudonymise);
        }
        if (doc) docs.push({ pending, doc, version: pending.events.at(-1)!.rev });
      } catch (err) {
        this.#poison(pending, err instanceof Error ? err.message : String(err), result);
      }
    }

    const names = await this.#opts.names.resolve({
      institutions: docs.map((d) => d.doc.institutionId),
      departments: docs.map((d) => d.doc.departmentId),
      doctors: docs.map((d) => d.doc.doctorId),
    });
    const operations: BulkOperation[] = docs.map(({ doc, version }) => ({
      action: 'index',
      index,
      id: doc.appointmentId,
      version,
      document: {
        ...withNames(doc, {
          ...optional('institutionName', names.institutions.get(doc.institutionId)),
          ...optional('departmentName', names.departments.get(doc.departmentId)),
          ...optional('doctorName', names.doctors.get(doc.doctorId)),
        }),
      },
    }));
    const bulk = await this.#opts.engine.bulk(operations);
    const transient = bulk.failures.filter((f) => f.status === 429 || f.status >= 500);
    if (transient.length > 0) {
      throw new TransientError(
        `search engine refused ${transient.length} write(s): ${transient[0]?.reason ?? ''}`,
      );
    }
    for (const failure of bulk.failures) {
      const pending = byAppointment.get(failure.id);
      if (pending) this.#poison(pending, `indexing failed (${failure.status}): ${failure.reason}`, result);
    }
    result.applied += bulk.applied;
    result.stale += bulk.stale;
    return this.#forget(forgotten, index, result);
  }

  /** Drops forgotten patients' pseudonyms from the index (after this batch's own writes). */
  async #forget<S>(pseudonyms: string[], index: string, result: SearchWriteResult<S>) {
    for (const pseudonym of pseudonyms) {
      await this.#opts.engine.clearField(index, 'patientPseudonym', pseudonym);
      result.applied += 1;
    }
    return result;
  }

  #poison<S>(pending: Pending<S>, reason: string, result: SearchWriteResult<S>): void {
    for (const e of pending.events)
      if (e.source !== undefined) result.poison.push({ source: e.source, reason });
  }

  async #loadFacts(scheduleIds: string[]): Promise<void> {
    const unknown = scheduleIds.filter((id) => !this.#facts.has(id));
    await mapLimit(unknown, 16, async (scheduleId) => {
      const [first] = await this.#opts.history.readStream(streamOf(scheduleId), {
        fromRevision: 0,
        maxCount: 1,
      });
      if (!first) return;
      const parsed = parseStreamEvent(first);
      if (parsed.kind === 'schedule' && parsed.event.type === 'ScheduleOpened') {
        this.#facts.set(scheduleId, factsOf(parsed.event));
      }
    });
  }

  /** Documents of appointments whose batch starts with a later event than the booking. */
  async #currentDocs<S>(pending: Pending<S>[], index: string): Promise<Map<string, AppointmentDoc>> {
    const out = new Map<string, AppointmentDoc>();
    await mapLimit(pending, 16, async (p) => {
      const hit = await this.#opts.engine.get<AppointmentDoc>(index, p.appointmentId);
      if (hit) {
        out.set(p.appointmentId, hit.source);
        return;
      }
      // Not in the index (yet): rebuild the document from the stream's earlier events.
      const before = p.events[0]!.rev;
      const history = await sealLegacyPatients(
        await this.#opts.history.readStream(p.streamId, { fromRevision: 0, maxCount: before }),
        this.#opts.patients,
      );
      const refs = history.flatMap((e) => {
        const ref = (e.data as { patientRef?: unknown } | null)?.patientRef;
        return typeof ref === 'string' ? [ref] : [];
      });
      const pseudonyms = await this.#opts.patients.pseudonyms(refs);
      let doc: AppointmentDoc | null = null;
      for (const recorded of history) {
        const parsed = parseStreamEvent(recorded);
        if (parsed.kind !== 'schedule') continue;
        const e = parsed.event;
        if (e.type === 'ScheduleOpened') this.#facts.set(e.data.scheduleId, factsOf(e));
        if (isAppointmentEvent(e) && e.data.appointmentId === p.appointmentId) {
          doc = evolveAppointment(
            doc,
            e,
            this.#facts.get(p.scheduleId),
            (ref) => pseudonyms.get(ref) ?? null,
          );
        }
      }
      if (doc) out.set(p.appointmentId, doc);
    });
    return out;
  }
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
