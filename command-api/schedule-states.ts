/**
 * The folded state of recently used schedule streams, with the revision and checkpoint it was
 * folded up to (an LRU bounded by appointments held, not by stream count: a full schedule weighs
 * 1,000× an empty one). A cached state may be stale — another process appended since — and that
 * is harmless: an append from it fails the optimistic check, and a rejection is only final after
 * `load` read the events appended since (see command-path.ts).
 */
import { LRUCache } from 'lru-cache';
import { recordedSchemaVersion, upcastScheduleEvent } from '../domain/event-versions.ts';
import { type ScheduleState, scheduleEventTypes } from '../domain/schedule.ts';
import { foldStream, initialStreamState } from '../domain/schedule-stream.ts';
import { isSlotEventType, latestSlotEventVersions } from '../domain/slot-events.ts';
import type { ScheduleStreamEvent, SlotBook } from '../domain/slot-state.ts';
import type {
  Checkpoint,
  EventStoreTransaction,
  RecordedEvent,
} from '../platform/event-store/event-store.ts';

export interface LoadedState {
  /** The schedule as the capacity rules see it. */
  state: ScheduleState;
  /** Its slot book when numbered (docs/adr/0012); null for a capacity-only schedule. */
  book: SlotBook | null;
  /** Revision of the stream's last event; undefined when the stream does not exist. */
  revision: bigint | undefined;
  /** Checkpoint of the stream's last event. */
  checkpoint: Checkpoint | undefined;
}

type StreamReader = Pick<EventStoreTransaction<unknown>, 'readStream'>;

const isStreamEvent = (e: RecordedEvent): boolean =>
  (scheduleEventTypes as readonly string[]).includes(e.type) || isSlotEventType(e.type);

/**
 * An older schema version is lifted to the latest before the decider sees it; a version this build
 * does not know (written by a newer one) fails the command rather than being guessed at (ADR 0009).
 */
function toDomain(e: RecordedEvent): ScheduleStreamEvent {
  if (isSlotEventType(e.type)) {
    // Every slot event is at its first version; a later one was written by a newer build.
    const version = recordedSchemaVersion(e.metadata);
    if (version !== latestSlotEventVersions[e.type])
      throw new Error(
        `${e.streamId} revision ${e.revision}: unknown schema version ${String(version)} of ${e.type}`,
      );
    return { type: e.type, data: e.data } as ScheduleStreamEvent;
  }
  const upcast = upcastScheduleEvent(e);
  if (!upcast.ok) throw new Error(`${e.streamId} revision ${e.revision}: ${upcast.reason}`);
  return { type: e.type, data: upcast.data } as ScheduleStreamEvent;
}

export class ScheduleStates {
  readonly #cache: LRUCache<string, LoadedState>;
  /** Known to be behind the stream (an append from it lost): `load` catches up, `cached` says nothing. */
  readonly #behind = new WeakSet<LoadedState>();

  /** `size`: budget in appointments (plus one per stream). Default 200,000. */
  constructor(size = 200_000) {
    this.#cache = new LRUCache({
      maxSize: size,
      sizeCalculation: (loaded) =>
        1 + (loaded.state.status === 'initial' ? 0 : loaded.state.appointments.size),
    });
  }

  /** The cached state, without reading the stream (possibly stale). */
  cached(streamId: string): LoadedState | undefined {
    const cached = this.#cache.get(streamId);
    return cached && this.#behind.has(cached) ? undefined : cached;
  }

  /** The stream's current state: the cached fold plus the events appended after it. */
  async load(reader: StreamReader, streamId: string): Promise<LoadedState> {
    const cached = this.#cache.get(streamId);
    const fromRevision = cached?.revision === undefined ? 0n : cached.revision + 1n;
    const recorded = await reader.readStream(streamId, { fromRevision });
    if (recorded.length === 0 && cached) {
      this.#behind.delete(cached);
      return cached;
    }
    const last = recorded.at(-1);
    const from = cached ? { schedule: cached.state, book: cached.book } : initialStreamState();
    const folded = foldStream(recorded.filter(isStreamEvent).map(toDomain), from);
    const loaded: LoadedState = {
      state: folded.schedule,
      book: folded.book,
      revision: last?.revision ?? cached?.revision,
      checkpoint: last?.checkpoint ?? cached?.checkpoint,
    };
    if (loaded.revision !== undefined) this.#cache.set(streamId, loaded);
    return loaded;
  }

  /** Call after the transaction that appended up to `loaded.revision` committed. */
  remember(streamId: string, loaded: LoadedState): void {
    this.#cache.set(streamId, loaded);
  }

  /**
   * Another writer appended after the cached state (an append from it failed its revision check):
   * still a true prefix of the stream, so the next `load` reads only the events after it, but
   * nobody decides on it as it is.
   */
  behind(streamId: string): void {
    const cached = this.#cache.get(streamId);
    if (cached) this.#behind.add(cached);
  }

  /** The cached state can no longer be trusted to match the stream (a failed or unknown commit). */
  forget(streamId: string): void {
    this.#cache.delete(streamId);
  }
}
