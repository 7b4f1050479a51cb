/**
 * What the two per-appointment index writers (the `appointments` search index and the analytics
 * index) do alike with a batch of schedule and patient events: group the appointment events per
 * appointment, keep the schedules' facts, rebuild a document from the event store when the index
 * lacks it, and turn a bulk request's failures into retries or poison. Each writer keeps what
 * differs: its document, its indices, which documents it reads first.
 */
import { LRUCache } from 'lru-cache';
import type { ScheduleOpened } from '../../domain/schedule.ts';
import { PATIENT_STREAM_PREFIX, parsePatientForgotten } from '../../domain/patient-events.ts';
import { sealLegacyPatients } from '../../platform/legacy-patients.ts';
import type { ProjectorPatients } from '../../platform/patient-vault.ts';
import type { BulkResult } from '../../platform/search/index.ts';
import type { StreamHistory, WriteItem } from '../redis/redis-writer.ts';
import { parseStreamEvent } from '../redis/stream-events.ts';
import { TransientError } from '../runtime/errors.ts';
import { SCHEDULE_STREAM_PREFIX } from '../schedule-events.ts';
import {
  type AppointmentEvent,
  factsOf,
  isAppointmentEvent,
  type Pseudonymise,
  type ScheduleFacts,
} from './appointments-model.ts';

export interface BatchResult<S> {
  applied: number;
  stale: number;
  ignored: number;
  poison: { source: S; reason: string }[];
}

/** One appointment's events of a batch (`source` absent for a replay from the store). */
export interface Pending<S> {
  appointmentId: string;
  scheduleId: string;
  streamId: string;
  events: { event: AppointmentEvent; rev: number; source?: S }[];
}

/** Folds one event into a document: `evolveAppointment` or `evolveAnalytics`. */
export type Evolve<D> = (
  doc: D | null,
  event: AppointmentEvent,
  facts: ScheduleFacts | undefined,
  pseudonymise: Pseudonymise,
) => D;

/** `fn` over `items`, at most `limit` at a time (the engine and the store are shared). */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
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

/** Schedules' facts (their ScheduleOpened), LRU-cached: they never change once opened. */
export class ScheduleFactsCache {
  readonly #facts = new LRUCache<string, ScheduleFacts>({ max: 100_000 });

  get(scheduleId: string): ScheduleFacts | undefined {
    return this.#facts.get(scheduleId);
  }

  remember(opened: ScheduleOpened): void {
    this.#facts.set(opened.data.scheduleId, factsOf(opened));
  }

  /** Reads the first event of each schedule not cached yet: its ScheduleOpened. */
  async load(history: StreamHistory, scheduleIds: readonly string[]): Promise<void> {
    const unknown = scheduleIds.filter((id) => !this.#facts.has(id));
    await mapLimit(unknown, 16, async (scheduleId) => {
      const [first] = await history.readStream(`${SCHEDULE_STREAM_PREFIX}${scheduleId}`, {
        fromRevision: 0,
        maxCount: 1,
      });
      if (!first) return;
      const parsed = parseStreamEvent(first);
      if (parsed.kind === 'schedule' && parsed.event.type === 'ScheduleOpened') this.remember(parsed.event);
    });
  }
}

export interface GroupedBatch<S> {
  /** The batch's outcome so far: what was ignored or poison while grouping. */
  result: BatchResult<S>;
  byAppointment: Map<string, Pending<S>>;
  /** Pseudonyms of the patients forgotten in this batch, to clear after its own writes. */
  forgotten: string[];
}

/**
 * Groups a batch's appointment events per appointment (in batch order). Counts what is not an
 * appointment event as ignored, poisons what cannot be parsed; then has the facts of every
 * grouped appointment's schedule cached (a document is built from them).
 */
export async function groupBatch<S>(
  items: readonly WriteItem<S>[],
  deps: { history: StreamHistory; patients: ProjectorPatients; facts: ScheduleFactsCache },
): Promise<GroupedBatch<S>> {
  const result: BatchResult<S> = { applied: 0, stale: 0, ignored: 0, poison: [] };
  const byAppointment = new Map<string, Pending<S>>();
  const forgotten: string[] = [];
  const envelopes = await sealLegacyPatients(
    items.map((i) => i.envelope),
    deps.patients,
  );
  for (const [i, { source }] of items.entries()) {
    const envelope = envelopes[i]!;
    const forget = envelope.streamId.startsWith(PATIENT_STREAM_PREFIX)
      ? parsePatientForgotten(envelope)
      : undefined;
    if (forget) {
      // The vault's cached key of a forgotten patient must not outlive its erasure.
      deps.patients.invalidate(forget.data.patientRef);
      forgotten.push(forget.data.pseudonym);
      continue;
    }
    const parsed = parseStreamEvent(envelope);
    if (parsed.kind === 'poison') {
      if (source !== undefined) result.poison.push({ source, reason: parsed.reason });
      continue;
    }
    if (parsed.kind === 'ignored' || !isAppointmentEvent(parsed.event)) {
      if (parsed.kind === 'schedule' && parsed.event.type === 'ScheduleOpened')
        deps.facts.remember(parsed.event);
      result.ignored += 1;
      continue;
    }
    const event = parsed.event;
    const { appointmentId, scheduleId } = event.data;
    let pending = byAppointment.get(appointmentId);
    if (!pending) {
      pending = { appointmentId, scheduleId, streamId: envelope.streamId, events: [] };
      byAppointment.set(appointmentId, pending);
    }
    pending.events.push({ event, rev: envelope.revision, ...(source !== undefined ? { source } : {}) });
  }
  await deps.facts.load(deps.history, [...new Set([...byAppointment.values()].map((p) => p.scheduleId))]);
  return { result, byAppointment, forgotten };
}

/** Every event of `pending` that came as a message is poison for `reason`. */
export function poisonPending<S>(pending: Pending<S>, reason: string, result: BatchResult<S>): void {
  for (const e of pending.events)
    if (e.source !== undefined) result.poison.push({ source: e.source, reason });
}

/**
 * Adds a bulk request's outcome to `result`. An overloaded or failing engine (429, 5xx) is worth
 * a retry of the whole batch (external versions make that harmless); any other refusal will not
 * pass on a retry either, so the appointment's events are poison.
 */
export function settleBulk<S>(
  bulk: BulkResult,
  opts: {
    byAppointment: ReadonlyMap<string, Pending<S>>;
    /** What the error calls the writes: `write(s)`, `analytics write(s)`. */
    writes: string;
    /** How an appointment's events become poison; `poisonPending` unless said otherwise. */
    poison?: (pending: Pending<S>, reason: string) => void;
  },
  result: BatchResult<S>,
): void {
  const transient = bulk.failures.filter((f) => f.status === 429 || f.status >= 500);
  if (transient.length > 0) {
    throw new TransientError(
      `search engine refused ${transient.length} ${opts.writes}: ${transient[0]?.reason ?? ''}`,
    );
  }
  const poison =
    opts.poison ?? ((pending: Pending<S>, reason: string) => poisonPending(pending, reason, result));
  for (const failure of bulk.failures) {
    const pending = opts.byAppointment.get(failure.id);
    if (pending) poison(pending, `indexing failed (${failure.status}): ${failure.reason}`);
  }
  result.applied += bulk.applied;
  result.stale += bulk.stale;
}

/**
 * The document of `pending`'s appointment as the stream's events before this batch make it, and
 * the revision of the last of them (null if there are none): for an appointment the index does
 * not have (yet), e.g. right after an alias switch or before its month's index exists.
 */
export async function rebuildFromStream<S, D>(
  pending: Pending<S>,
  deps: { history: StreamHistory; patients: ProjectorPatients; facts: ScheduleFactsCache },
  evolve: Evolve<D>,
): Promise<{ doc: D; version: number } | null> {
  const history = await sealLegacyPatients(
    await deps.history.readStream(pending.streamId, { fromRevision: 0, maxCount: pending.events[0]!.rev }),
    deps.patients,
  );
  const refs = history.flatMap((e) => {
    const ref = (e.data as { patientRef?: unknown } | null)?.patientRef;
    return typeof ref === 'string' ? [ref] : [];
  });
  const pseudonyms = await deps.patients.pseudonyms(refs);
  let doc: D | null = null;
  let version = -1;
  for (const recorded of history) {
    const parsed = parseStreamEvent(recorded);
    if (parsed.kind !== 'schedule') continue;
    const e = parsed.event;
    if (e.type === 'ScheduleOpened') deps.facts.remember(e);
    if (isAppointmentEvent(e) && e.data.appointmentId === pending.appointmentId) {
      doc = evolve(doc, e, deps.facts.get(pending.scheduleId), (ref) => pseudonyms.get(ref) ?? null);
      version = Number(recorded.revision);
    }
  }
  return doc === null ? null : { doc, version };
}
