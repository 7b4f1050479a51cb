/**
 * The folded state of recently used schedule streams, with the revision and checkpoint it was
 * folded up to (an LRU bounded by appointments held, not by stream count: a full schedule weighs
 * 1,000× an empty one). A cached state may be stale — another process appended since — and that
 * is harmless: an append from it fails the optimistic check, and a rejection is only final after
 * `load` read the events appended since (see command-path.ts).
 */
import { LRUCache } from 'lru-cache';
import { upcastScheduleEvent } from '../domain/event-versions.ts';
import {
  fold,
  initialState,
  type ScheduleEvent,
  scheduleEventTypes,
  type ScheduleState,
} from '../domain/schedule.ts';
import type {
  Checkpoint,
  EventStoreTransaction,
  RecordedEvent,
} from '../platform/event-store/event-store.ts';

export interface LoadedState {
  state: ScheduleState;
  /** Revision of the stream's last event; undefined when the stream does not exist. */
  revision: bigint | undefined;
  /** Checkpoint of the stream's last event. */
  checkpoint: Checkpoint | undefined;
}

type StreamReader = Pick<EventStoreTransaction<unknown>, 'readStream'>;

const isScheduleEvent = (e: RecordedEvent): boolean =>
  (scheduleEventTypes as readonly string[]).includes(e.type);

/**
 * An older schema version is lifted to the latest before the decider sees it; a version this build
 * does not know (written by a newer one) fails the command rather than being guessed at (ADR 0009).
 */
function toDomain(e: RecordedEvent): ScheduleEvent {
  const upcast = upcastScheduleEvent(e);
  if (!upcast.ok) throw new Error(`${e.streamId} revision ${e.revision}: ${upcast.reason}`);
  return { type: e.type, data: upcast.data } as ScheduleEvent;
}

export class ScheduleStates {
  readonly #cache: LRUCache<string, LoadedState>;

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
    return this.#cache.get(streamId);
  }

  /** The stream's current state: the cached fold plus the events appended after it. */
  async load(reader: StreamReader, streamId: string): Promise<LoadedState> {
    const cached = this.#cache.get(streamId);
    const fromRevision = cached?.revision === undefined ? 0n : cached.revision + 1n;
    const recorded = await reader.readStream(streamId, { fromRevision });
    if (recorded.length === 0 && cached) return cached;
    const last = recorded.at(-1);
    const loaded: LoadedState = {
      state: fold(recorded.filter(isScheduleEvent).map(toDomain), cached?.state ?? initialState()),
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

  /** The cached state can no longer be trusted to match the stream (a failed or unknown commit). */
  forget(streamId: string): void {
    this.#cache.delete(streamId);
  }
}
