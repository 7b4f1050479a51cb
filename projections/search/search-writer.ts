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
import type { ProjectorPatients } from '../../platform/patient-vault.ts';
import type { Logger } from '../../platform/logger.ts';
import type { BulkOperation, SearchEngine } from '../../platform/search/index.ts';
import type { StreamHistory, WriteItem } from '../redis/redis-writer.ts';
import {
  type BatchResult,
  groupBatch,
  mapLimit,
  type Pending,
  poisonPending,
  rebuildFromStream,
  ScheduleFactsCache,
  settleBulk,
} from './appointment-batch.ts';
import { type AppointmentDoc, evolveAppointment, withNames } from './appointments-model.ts';
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

export type SearchWriteResult<S> = BatchResult<S>;

export class AppointmentsSearchWriter {
  readonly #opts: SearchWriterOptions;
  readonly #facts = new ScheduleFactsCache();

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
    const { result, byAppointment, forgotten } = await groupBatch(items, {
      ...this.#opts,
      facts: this.#facts,
    });
    if (byAppointment.size === 0) return this.#forget(forgotten, index, result);

    const all = [...byAppointment.values()];
    const pseudonyms = await this.#opts.patients.pseudonyms(
      all.flatMap((p) => p.events.map((e) => e.event.data.patientRef)),
    );
    const pseudonymise = (ref: string) => pseudonyms.get(ref) ?? null;
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
        poisonPending(pending, err instanceof Error ? err.message : String(err), result);
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
      // An unknown name is undefined here, and withNames keeps the document's own for it.
      document: {
        ...withNames(doc, {
          institutionName: names.institutions.get(doc.institutionId),
          departmentName: names.departments.get(doc.departmentId),
          doctorName: names.doctors.get(doc.doctorId),
        }),
      },
    }));
    const bulk = await this.#opts.engine.bulk(operations);
    settleBulk(bulk, { byAppointment, writes: 'write(s)' }, result);
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

  /** Documents of appointments whose batch starts with a later event than the booking. */
  async #currentDocs<S>(pending: Pending<S>[], index: string): Promise<Map<string, AppointmentDoc>> {
    const out = new Map<string, AppointmentDoc>();
    await mapLimit(pending, 16, async (p) => {
      const hit = await this.#opts.engine.get<AppointmentDoc>(index, p.appointmentId);
      if (hit) {
        out.set(p.appointmentId, hit.source);
        return;
      }
      const rebuilt = await rebuildFromStream(p, { ...this.#opts, facts: this.#facts }, evolveAppointment);
      if (rebuilt) out.set(p.appointmentId, rebuilt.doc);
    });
    return out;
  }
}
