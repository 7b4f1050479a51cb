/**
 * The command path. `decideAndCommit` reads top to bottom and is all of it: in ONE transaction of
 * the event store it loads the schedule's state, decides, appends the events (expecting the
 * loaded revision), indexes the booked appointments and completes the Idempotency-Key with the
 * response. `executeCommand` puts the retry policy around it: an optimistic-concurrency conflict
 * (someone appended first) rolls that transaction back and reruns it on fresh state.
 *
 * It sees ports only — the event store, the key's completion, the appointment index — and hands
 * the store's transaction (`Tx`, opaque here) to the latter two. See docs/adr/0001 (the stream is
 * the consistency boundary) and docs/adr/0006 (idempotency).
 */
import { ExponentialBackoff, handleType, type IPolicy, retry } from 'cockatiel';
import {
  decide,
  fold,
  type ScheduleCommand,
  type ScheduleEvent,
  type ScheduleState,
} from '../domain/schedule.ts';
import {
  type Checkpoint,
  type EventMetadata,
  type EventStore,
  type EventStoreTransaction,
  WrongExpectedRevisionError,
} from '../platform/event-store/event-store.ts';
import { AppError } from '../platform/http/errors.ts';
import type { StoredOutcome } from '../platform/http/idempotency.ts';
import { KeyedQueue } from '../platform/keyed-queue.ts';
import { bookedIn, type IndexedAppointment } from './appointment-index.ts';
import { problemFor, type ResponseOutcome } from './problems.ts';
import { type LoadedState, ScheduleStates } from './schedule-states.ts';

export const CHECKPOINT_HEADER = 'Booking-Checkpoint';

/** An Idempotency-Key this request owns (claimed, lease token in hand). */
export interface ClaimedKey {
  principal: string;
  key: string;
  token: string;
}

/** What a command committed: the success reply is built from it. */
export interface Committed {
  events: ScheduleEvent[];
  /** The schedule's state after the command. */
  state: ScheduleState;
  /** Checkpoint of the stream's last event after the command (sent as Booking-Checkpoint). */
  checkpoint: Checkpoint | undefined;
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface CommandRequest {
  streamId: string;
  command: ScheduleCommand;
  metadata: EventMetadata;
  key: ClaimedKey;
  reply: (committed: Committed) => Reply;
  /** Test seam: runs inside the transaction just before the key is completed and committed. */
  beforeCommit?: () => Promise<void> | void;
}

/** The adapters the path writes through, each joining the store's transaction `Tx`. */
export interface CommandPorts<Tx> {
  store: Pick<EventStore<Tx>, 'transaction'>;
  keys: {
    complete(tx: Tx, principal: string, key: string, token: string, outcome: StoredOutcome): Promise<void>;
  };
  appointments: { add(tx: Tx, rows: readonly IndexedAppointment[]): Promise<void> };
}

export interface CommandPathOptions {
  retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** Cache budget in appointments (plus one per stream). Default 200,000. */
  cacheSize?: number;
  onRetry?: () => void;
}

interface CommandPath<Tx> extends CommandPorts<Tx> {
  states: ScheduleStates;
  /** Serialises this process's commands per stream, so they do not race each other into conflicts. */
  queue: KeyedQueue;
  /** Reruns an attempt that lost the optimistic check, with jittered exponential backoff. */
  retry: IPolicy;
}

/** The command path as the HTTP side uses it (the store's transaction type stays inside). */
export interface Commands {
  /** Runs the command; returns the outcome it committed with its key (a response or a problem). */
  execute(req: CommandRequest): Promise<StoredOutcome>;
  /** Completes the key with an outcome reached before any stream was involved (an unknown appointment). */
  completeWithout(key: ClaimedKey, outcome: StoredOutcome): Promise<void>;
}

export function createCommands<Tx>(ports: CommandPorts<Tx>, opts: CommandPathOptions = {}): Commands {
  const policy = retry(handleType(WrongExpectedRevisionError), {
    maxAttempts: opts.retry?.maxAttempts ?? 6,
    backoff: new ExponentialBackoff({
      initialDelay: opts.retry?.initialDelayMs ?? 5,
      maxDelay: opts.retry?.maxDelayMs ?? 200,
    }),
  });
  if (opts.onRetry) policy.onRetry(opts.onRetry);
  const path: CommandPath<Tx> = {
    ...ports,
    states: new ScheduleStates(opts.cacheSize),
    queue: new KeyedQueue(),
    retry: policy,
  };
  return {
    execute: (req) => executeCommand(path, req),
    completeWithout: (key, outcome) => completeWithoutCommand(path, key, outcome),
  };
}

/** Runs the command and returns the outcome it committed with its key (a response or a problem). */
async function executeCommand<Tx>(path: CommandPath<Tx>, req: CommandRequest): Promise<StoredOutcome> {
  return path.queue.run(req.streamId, async () => {
    try {
      return await path.retry.execute(() => attempt(path, req));
    } catch (err) {
      if (!(err instanceof WrongExpectedRevisionError)) throw err;
      throw new AppError('concurrency_conflict', 'The schedule kept changing; retry the request', {
        cause: err,
        headers: { 'Retry-After': '1' },
      });
    }
  });
}

async function attempt<Tx>(path: CommandPath<Tx>, req: CommandRequest): Promise<StoredOutcome> {
  try {
    const { outcome, after } = await path.store.transaction((tx) => decideAndCommit(path, tx, req));
    if (after) path.states.remember(req.streamId, after);
    return outcome;
  } catch (err) {
    // Whatever happened, the cached state can no longer be trusted to match the stream.
    path.states.forget(req.streamId);
    throw err;
  }
}

/** One attempt, in one transaction: load, decide, append, index, complete the key. */
async function decideAndCommit<Tx>(
  path: CommandPath<Tx>,
  tx: EventStoreTransaction<Tx>,
  req: CommandRequest,
): Promise<{ outcome: StoredOutcome; after?: LoadedState }> {
  const { streamId, command, key } = req;
  const complete = async <O extends StoredOutcome>(outcome: O): Promise<O> => {
    await req.beforeCommit?.();
    await path.keys.complete(tx.handle, key.principal, key.key, key.token, outcome);
    return outcome;
  };

  // 1. Load and decide. Deciding on the cached state saves the read: accepted, it is safe (a stale
  //    cache fails the append's revision check); a rejection or a no-op counts only once decided
  //    on the stream as it is now.
  const cached = path.states.cached(streamId);
  let loaded = cached ?? (await path.states.load(tx, streamId));
  let decision = decide(command, loaded.state);
  if (cached && !(decision.ok && decision.events.length > 0)) {
    loaded = await path.states.load(tx, streamId);
    decision = decide(command, loaded.state);
  }
  // A business-rule rejection is an outcome too: a retry of the key gets the same answer.
  if (!decision.ok) return { outcome: await complete(problemFor(decision.error)) };

  // 2. Append, expecting the loaded revision: a conflict throws and the retry reruns all of this.
  const { events } = decision;
  const appended =
    events.length === 0
      ? undefined
      : await tx.appendToStream(
          streamId,
          events.map((e) => ({ type: e.type, data: e.data, metadata: req.metadata })),
          loaded.revision ?? 'no_stream',
        );

  // 3. Index the booked appointments: addressable by id exactly when they exist.
  await path.appointments.add(tx.handle, bookedIn(streamId, events));

  // 4. Complete the key with the response, last, so its row is locked only until COMMIT.
  const state = fold(events, loaded.state);
  const checkpoint = appended?.checkpoint ?? loaded.checkpoint;
  const outcome = await complete(responseOf(req.reply({ events, state, checkpoint }), checkpoint));
  return { outcome, after: appended && { state, revision: appended.nextExpectedRevision, checkpoint } };
}

/** Stores an outcome reached before any stream was involved (e.g. an unknown appointment id). */
async function completeWithoutCommand<Tx>(
  path: CommandPath<Tx>,
  key: ClaimedKey,
  outcome: StoredOutcome,
): Promise<void> {
  await path.store.transaction((tx) =>
    path.keys.complete(tx.handle, key.principal, key.key, key.token, outcome),
  );
}

const responseOf = (reply: Reply, checkpoint: Checkpoint | undefined): ResponseOutcome => ({
  kind: 'response',
  status: reply.status,
  headers: {
    'Content-Type': 'application/json; charset=utf-8',
    ...reply.headers,
    ...(checkpoint === undefined ? {} : { [CHECKPOINT_HEADER]: checkpoint }),
  },
  body: JSON.stringify(reply.body),
});
