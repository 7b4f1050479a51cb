/**
 * The thin I/O half of the analytics index: per batch, fold each appointment's events with the
 * pure `evolveAnalytics`, add the catalog's current facts (`withCatalog`), and send ONE bulk
 * request into the monthly indices, every operation with version = the stream revision of the
 * last event folded in (external versioning): a redelivered or replayed event is a 409 the
 * engine reports as stale.
 *
 * Reads it needs: the schedule's facts (its ScheduleOpened, from the batch or the event store,
 * LRU-cached: they never change), the current document of an appointment whose batch is more
 * than its booking (a real-time GET; events at or below its version are skipped, so a
 * transition is never recorded twice; if the index does not have it, the document is rebuilt
 * from the stream's earlier events), and the catalog facts of the batch's ids.
 */
import type { Logger } from '../../platform/logger.ts';
import type { ProjectorPatients } from '../../platform/patient-vault.ts';
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
} from '../search/appointment-batch.ts';
import {
  analyticsIndexDefinition,
  type AnalyticsDoc,
  evolveAnalytics,
  monthlyIndexName,
  withCatalog,
} from './analytics-model.ts';
import type { CatalogLookup } from './catalog-lookup.ts';
import { oldestKeptMonth } from './retention.ts';

export interface AnalyticsWriterOptions {
  engine: SearchEngine;
  /** The read alias; documents go to its monthly indices `<alias>-YYYY-MM`. */
  alias: string;
  history: StreamHistory;
  catalog: CatalogLookup;
  patients: ProjectorPatients;
  /** Sessions older than this many months are not written (their index is past retention). */
  retentionMonths: number;
  now?: () => Date;
  logger: Logger;
}

export type AnalyticsWriteResult<S> = BatchResult<S>;

export class AnalyticsWriter {
  readonly #opts: AnalyticsWriterOptions;
  readonly #facts = new ScheduleFactsCache();
  /** Monthly indices known to exist (created at most once per process). */
  readonly #indices = new Set<string>();

  constructor(opts: AnalyticsWriterOptions) {
    this.#opts = opts;
  }

  async write<S>(items: readonly WriteItem<S>[]): Promise<AnalyticsWriteResult<S>> {
    const { result, byAppointment, forgotten } = await groupBatch(items, {
      ...this.#opts,
      facts: this.#facts,
    });
    const all = [...byAppointment.values()];
    const oldest = oldestKeptMonth(this.#opts.now?.() ?? new Date(), this.#opts.retentionMonths);
    const kept = all.filter((p) => {
      const facts = this.#facts.get(p.scheduleId);
      // Past retention: its month's index is (or will be) deleted; writing would bring it back.
      if (facts && facts.date.slice(0, 7) < oldest) {
        result.ignored += p.events.length;
        return false;
      }
      return true;
    });
    const pseudonyms = await this.#opts.patients.pseudonyms(
      kept.flatMap((p) => p.events.map((e) => e.event.data.patientRef)),
    );
    const pseudonymise = (ref: string) => pseudonyms.get(ref) ?? null;
    // A lone booking is new (or a harmless stale replay): no read. Anything else may fold onto a
    // document that holds later steps than a redelivered booking, so it is read first.
    const current = await this.#currentDocs(
      kept.filter((p) => p.events.length > 1 || p.events[0]?.event.type !== 'AppointmentBooked'),
    );

    const docs: { doc: AnalyticsDoc; version: number }[] = [];
    for (const pending of kept) {
      pending.events.sort((a, b) => a.rev - b.rev);
      const known = current.get(pending.appointmentId);
      const fresh = pending.events.filter((e) => e.rev > (known?.version ?? -1));
      if (fresh.length === 0) {
        result.stale += pending.events.length;
        continue;
      }
      try {
        let doc = known?.doc ?? null;
        for (const { event } of fresh) {
          doc = evolveAnalytics(doc, event, this.#facts.get(pending.scheduleId), pseudonymise);
        }
        if (doc) docs.push({ doc, version: fresh.at(-1)!.rev });
      } catch (err) {
        this.#poison(pending, err instanceof Error ? err.message : String(err), result);
      }
    }

    const catalog = await this.#opts.catalog.facts({
      institutions: docs.map((d) => d.doc.institutionId),
      departments: docs.map((d) => d.doc.departmentId),
      doctors: docs.map((d) => d.doc.doctorId),
    });
    const operations: BulkOperation[] = docs.map(({ doc, version }) => ({
      action: 'index',
      index: monthlyIndexName(this.#opts.alias, doc.sessionDate),
      id: doc.appointmentId,
      version,
      document: { ...withCatalog(doc, catalog) },
    }));
    await this.#ensureIndices(operations.map((o) => o.index));
    const bulk = await this.#opts.engine.bulk(operations);
    settleBulk(
      bulk,
      {
        byAppointment,
        writes: 'analytics write(s)',
        poison: (pending, reason) => this.#poison(pending, reason, result),
      },
      result,
    );
    // After this batch's own writes, so a booking and its patient's erasure in one batch end erased.
    for (const pseudonym of forgotten) {
      if ((await this.#opts.engine.aliasTargets(this.#opts.alias)).length === 0) break;
      await this.#opts.engine.clearField(this.#opts.alias, 'patientPseudonym', pseudonym);
      result.applied += 1;
    }
    return result;
  }

  async #ensureIndices(indices: readonly string[]): Promise<void> {
    for (const index of new Set(indices)) {
      if (this.#indices.has(index)) continue;
      // Created with the alias in one request: the month is never outside what analysts query.
      await this.#opts.engine.createIndex(index, analyticsIndexDefinition(this.#opts.alias));
      this.#indices.add(index);
    }
  }

  #poison<S>(pending: Pending<S>, reason: string, result: AnalyticsWriteResult<S>): void {
    // A replay from the store has no message to dead-letter: say so, at least.
    if (pending.events.some((e) => e.source === undefined))
      this.#opts.logger.warn({ appointmentId: pending.appointmentId, reason }, 'analytics event not applied');
    poisonPending(pending, reason, result);
  }

  /** Documents (and their versions) of appointments whose batch starts after the booking. */
  async #currentDocs<S>(pending: Pending<S>[]): Promise<Map<string, { doc: AnalyticsDoc; version: number }>> {
    const out = new Map<string, { doc: AnalyticsDoc; version: number }>();
    await mapLimit(pending, 16, async (p) => {
      const facts = this.#facts.get(p.scheduleId);
      const index = facts && monthlyIndexName(this.#opts.alias, facts.date);
      // A month whose index does not exist yet answers 404: null, like a missing document.
      const found = index ? await this.#opts.engine.get<AnalyticsDoc>(index, p.appointmentId) : null;
      if (found) {
        out.set(p.appointmentId, { doc: found.source, version: found.version });
        return;
      }
      // A new booking: nothing of it before this batch.
      if (p.events[0]!.event.type === 'AppointmentBooked') return;
      const rebuilt = await rebuildFromStream(p, { ...this.#opts, facts: this.#facts }, evolveAnalytics);
      if (rebuilt) out.set(p.appointmentId, rebuilt);
    });
    return out;
  }
}
