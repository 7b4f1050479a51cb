/**
 * Runs schedule commands: load the stream's state, decide, append with the stream's revision as
 * the expected revision, all inside the caller's transaction work (idempotency record, appointment
 * index). Concurrency:
 *
 * - Optimistic concurrency on the schedule stream is THE guarantee against overbooking.
 * - A per-stream in-process queue serialises commands for one schedule inside this process, so
 *   they do not race each other into conflicts; conflicts with other processes are retried by a
 *   cockatiel policy with jittered exponential backoff, then surface as `concurrency_conflict`.
 * - An LRU cache keeps each stream's folded state and revision. An accepted command appends
 *   straight from the cached state (a stale cache just fails the optimistic check and is dropped);
 *   a rejection is only final after reading the events appended since the cached revision.
 */
import { ExponentialBackoff, handleType, type IPolicy, retry } from 'cockatiel';
import { LRUCache } from 'lru-cache';
import {
  type Decision,
  fold,
  initialState,
  type ScheduleError,
  type ScheduleEvent,
  scheduleEventTypes,
  type ScheduleState,
} from '../domain/schedule.ts';
import type {
  AppendResult,
  Checkpoint,
  EventMetadata,
  RecordedEvent,
} from '../platform/event-store/event-store.ts';
import { WrongExpectedRevisionError } from '../platform/event-store/event-store.ts';
import type { PgEventStore } from '../platform/event-store/pg-event-store.ts';
import { KeyedQueue } from '../platform/keyed-queue.ts';
import { type Pool, type PoolClient, withTransaction } from '../platform/pg.ts';

interface Loaded {
  state: ScheduleState;
  /** Revision of the stream's last event, undefined when the stream does not exist. */
  revision: bigint | undefined;
  checkpoint: Checkpoint | undefined;
}

export interface Committed {
  events: ScheduleEvent[];
  state: ScheduleState;
  /** Undefined when the decision produced no events (nothing was appended). */
  append: AppendResult | undefined;
  /** Checkpoint of the stream's last event after the command. */
  checkpoint: Checkpoint | undefined;
}

export type CommandResult<T> =
  { ok: true; value: T; committed: Committed } | { ok: false; error: ScheduleError };

export interface ScheduleCommandsOptions {
  retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** Cache budget in appointments (plus one per stream). Default 200,000. */
  cacheSize?: number;
  onRetry?: () => void;
}

export class ConcurrencyExhaustedError extends Error {
  constructor(streamId: string, cause: unknown) {
    super(`Gave up on ${streamId} after repeated concurrent modifications`, { cause });
    this.name = 'ConcurrencyExhaustedError';
  }
}

const isScheduleEvent = (e: RecordedEvent): boolean =>
  (scheduleEventTypes as readonly string[]).includes(e.type);

const toDomain = (e: RecordedEvent): ScheduleEvent => ({ type: e.type, data: e.data }) as ScheduleEvent;

export class ScheduleCommands {
  readonly #pool: Pool;
  readonly #store: PgEventStore;
  readonly #queue = new KeyedQueue();
  readonly #cache: LRUCache<string, Loaded>;
  readonly #retry: IPolicy;

  constructor(pool: Pool, store: PgEventStore, opts: ScheduleCommandsOptions = {}) {
    this.#pool = pool;
    this.#store = store;
    // Bounded by total appointments held, not by stream count: a full schedule weighs 1,000× an empty one.
    this.#cache = new LRUCache({
      maxSize: opts.cacheSize ?? 200_000,
      sizeCalculation: (loaded) =>
        1 + (loaded.state.status === 'initial' ? 0 : loaded.state.appointments.size),
    });
    const policy = retry(handleType(WrongExpectedRevisionError), {
      maxAttempts: opts.retry?.maxAttempts ?? 6,
      backoff: new ExponentialBackoff({
        initialDelay: opts.retry?.initialDelayMs ?? 5,
        maxDelay: opts.retry?.maxDelayMs ?? 200,
      }),
    });
    if (opts.onRetry) policy.onRetry(opts.onRetry);
    this.#retry = policy;
  }

  async load(streamId: string): Promise<Loaded> {
    const cached = this.#cache.get(streamId);
    const fromRevision = cached?.revision === undefined ? 0n : cached.revision + 1n;
    const recorded = await this.#store.readStream(streamId, { fromRevision });
    if (recorded.length === 0 && cached) return cached;
    const last = recorded.at(-1);
    const loaded: Loaded = {
      state: fold(recorded.filter(isScheduleEvent).map(toDomain), cached?.state ?? initialState()),
      revision: last?.revision ?? cached?.revision,
      checkpoint: last?.checkpoint ?? cached?.checkpoint,
    };
    if (loaded.revision !== undefined) this.#cache.set(streamId, loaded);
    return loaded;
  }

  /**
   * Decides `decide(state)` against the stream and, when accepted, appends the events and runs
   * `inTransaction` in the same transaction (its return value is the command's result). A
   * rejection returns the domain error and writes nothing.
   */
  async execute<T>(
    streamId: string,
    decide: (state: ScheduleState) => Decision,
    metadata: EventMetadata,
    inTransaction: (client: PoolClient, committed: Committed) => Promise<T>,
  ): Promise<CommandResult<T>> {
    return this.#queue.run(streamId, async () => {
      try {
        return await this.#retry.execute(() => this.#attempt(streamId, decide, metadata, inTransaction));
      } catch (err) {
        if (err instanceof WrongExpectedRevisionError) throw new ConcurrencyExhaustedError(streamId, err);
        throw err;
      }
    });
  }

  async #attempt<T>(
    streamId: string,
    decide: (state: ScheduleState) => Decision,
    metadata: EventMetadata,
    inTransaction: (client: PoolClient, committed: Committed) => Promise<T>,
  ): Promise<CommandResult<T>> {
    // Optimistic fast path: decide on the cached state without reading. An accepted decision is
    // safe either way (a stale cache fails the revision check and is retried on fresh state); a
    // rejection or a no-op from cached state is re-checked against the stream before it counts.
    const cached = this.#cache.get(streamId);
    let loaded = cached ?? (await this.load(streamId));
    let decision = decide(loaded.state);
    if (cached && (!decision.ok || decision.events.length === 0)) {
      loaded = await this.load(streamId);
      decision = decide(loaded.state);
    }
    if (!decision.ok) return { ok: false, error: decision.error };
    const { events } = decision;
    const state = fold(events, loaded.state);

    if (events.length === 0) {
      const committed: Committed = { events, state, append: undefined, checkpoint: loaded.checkpoint };
      const value = await withTransaction(this.#pool, (client) => inTransaction(client, committed));
      return { ok: true, value, committed };
    }

    try {
      const { value, committed } = await withTransaction(this.#pool, async (client) => {
        const append = await this.#store.appendToStream(
          streamId,
          events.map((e) => ({ type: e.type, data: e.data, metadata })),
          loaded.revision ?? 'no_stream',
          { transaction: client },
        );
        const committed: Committed = { events, state, append, checkpoint: append.checkpoint };
        return { value: await inTransaction(client, committed), committed };
      });
      if (committed.append) {
        this.#cache.set(streamId, {
          state,
          revision: committed.append.nextExpectedRevision,
          checkpoint: committed.append.checkpoint,
        });
      }
      return { ok: true, value, committed };
    } catch (err) {
      // Whatever happened, the cached state can no longer be trusted to match the stream.
      this.#cache.delete(streamId);
      throw err;
    }
  }
}
