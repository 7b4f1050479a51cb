/**
 * The command path. `decideAndCommit` reads top to bottom and is all of it: it loads the
 * schedule's state and decides, then (`commit`) in ONE transaction of the event store appends
 * the events (expecting the loaded revision), indexes the booked appointments, claims or frees
 * the doctor's session and completes the Idempotency-Key with the response. `executeCommand`
 * puts the retry policy around it: an optimistic-concurrency conflict (someone appended first)
 * rolls that transaction back and reruns the attempt on the events appended since. A command
 * still losing after `lockAfter` races and `lockAfterMs` decides and commits its next attempt
 * under the stream's lock (`lockedRound`): optimistic retries alone let a process with a warm
 * cache and a busy queue win every race against one that must read first (docs/adr/0028).
 *
 * A request may carry an `authorize` step: it judges the loaded state before the decider does (a
 * hospital acts only on its own institution's schedules), on every attempt, so a retry judges
 * fresh state too.
 *
 * It sees ports only — the event store, the key's completion, the appointment index, the open
 * sessions — and hands the store's transaction (`Tx`, opaque here) to the others. See
 * docs/adr/0001 (the stream is the consistency boundary) and docs/adr/0007 (idempotency).
 */
import { ExponentialBackoff, handleType, retry, type RetryPolicy } from 'cockatiel';
import type { ScheduleState } from '../domain/schedule.ts';
import { decideStream, foldStream } from '../domain/schedule-stream.ts';
import {
  defaultSlotOptions,
  type ScheduleStreamCommand,
  type ScheduleStreamEvent,
  type SlotBook,
  type SlotOptions,
  type StreamState,
} from '../domain/slot-state.ts';
import {
  type Checkpoint,
  type EventMetadata,
  type EventStore,
  type EventStoreTransaction,
  WrongExpectedRevisionError,
} from '../platform/event-store/event-store.ts';
import { stampStreamVersion } from './stream-versions.ts';
import { AppError } from '../platform/http/errors.ts';
import type { StoredOutcome } from '../platform/http/idempotency.ts';
import { KeyedQueue } from '../platform/keyed-queue.ts';
import type { AuditEntry } from '../platform/audit.ts';
import { bookedIn, type IndexedAppointment } from './appointment-index.ts';
import { checkpointPlaceholder, type OneStatementCommit } from './one-statement-commit.ts';
import type { CommandAudit } from './command-audit.ts';
import { SessionTakenError } from './open-sessions.ts';
import {
  PatientRuleRefusedError,
  type PatientRulesPort,
  scheduleRefOf,
  withBarred,
} from './patient-rules-port.ts';
import { problem, problemFor, type ProblemOutcome, type ResponseOutcome } from './problems.ts';
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
  events: ScheduleStreamEvent[];
  /** The schedule's state after the command. */
  state: ScheduleState;
  /** Its slot book after the command (null: a capacity-only schedule). */
  book: SlotBook | null;
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
  command: ScheduleStreamCommand;
  metadata: EventMetadata;
  /** Absent for the platform's own commands (the deadline poller): the decider makes them idempotent. */
  key?: ClaimedKey | undefined;
  reply: (committed: Committed) => Reply;
  /** Authorisation against the loaded state: a problem refuses the command (stored with the key). */
  authorize?: ((state: ScheduleState) => ProblemOutcome | undefined) | undefined;
  /** Test seam: runs just before the key is completed (inside the transaction, when there is one). */
  beforeCommit?: () => Promise<void> | void;
  /** The audit trail's entries for the events (hospital and admin commands), written in the transaction. */
  audit?: CommandAudit | undefined;
}

/** The adapters the path writes through, each joining the store's transaction `Tx`. */
export interface CommandPorts<Tx> {
  store: Pick<EventStore<Tx>, 'transaction' | 'readStream' | 'lockedTransaction'>;
  keys: {
    /** Completes the key inside the store's transaction `tx`. */
    complete(tx: Tx, principal: string, key: string, token: string, outcome: StoredOutcome): Promise<void>;
    /** Completes the key on its own (one statement), when nothing else is written. */
    completeAlone(principal: string, key: string, token: string, outcome: StoredOutcome): Promise<void>;
  };
  appointments: { add(tx: Tx, rows: readonly IndexedAppointment[]): Promise<void> };
  /** Claims the sessions `events` open, frees those they close; throws SessionTakenError. */
  sessions: { apply(tx: Tx, events: readonly ScheduleStreamEvent[]): Promise<void> };
  /** The `deadlines` rows the events set and settle (docs/adr/0012); absent in the bare benchmark path. */
  deadlines?: { apply(tx: Tx, streamId: string, events: readonly ScheduleStreamEvent[]): Promise<void> };
  /** The per-patient rules of numbered schedules (docs/adr/0012); absent: not enforced. */
  patients?: PatientRulesPort<Tx>;
  /** The audit trail (platform/audit.ts); absent in the benchmark's bare command path. */
  audit?: { record(tx: Tx, entries: readonly AuditEntry[]): Promise<void> };
  /**
   * Append, index, audit and key completion as one statement (one-statement-commit.ts), for the
   * commands it covers; absent: every command takes the store's transaction.
   */
  oneStatement?: OneStatementCommit;
}

export interface CommandPathOptions {
  /**
   * A conflict is retried (jittered exponential backoff, 1 ms growing to 10 ms by default) until
   * the command is decided or `deadlineMs` (default 10 s) passed since its first attempt;
   * `maxAttempts` (default 1,000) only bounds a runaway. Two instances contending on one schedule
   * thus answer with a decision (booked, schedule_full), not concurrency_conflict, while places
   * are left (issue 17), and a command that keeps losing takes the stream's lock (below).
   */
  retry?: {
    maxAttempts?: number;
    initialDelayMs?: number;
    maxDelayMs?: number;
    deadlineMs?: number;
    /**
     * A command takes the stream's lock for its next attempt once it lost `lockAfter` races
     * (default 3) and has been at it for `lockAfterMs` (default 250): only a command losing for
     * longer than contention takes to settle. Needs the store's lockedTransaction.
     */
    lockAfter?: number;
    lockAfterMs?: number;
  };
  /** Cache budget in appointments (plus one per stream). Default 200,000. */
  cacheSize?: number;
  onRetry?: () => void;
  /** Called when an attempt takes the stream's lock after `lockAfter` conflicts. */
  onLock?: () => void;
  /** Hold and offer minutes, cut-offs (config HOLD_MINUTES, …). Default: the domain's defaults. */
  slots?: SlotOptions;
}

interface CommandPath<Tx> extends CommandPorts<Tx> {
  states: ScheduleStates;
  /** Serialises this process's commands per stream, so they do not race each other into conflicts. */
  queue: KeyedQueue;
  /** Reruns an attempt that lost the optimistic check, with jittered exponential backoff. */
  retry: RetryPolicy;
  /** How long a command keeps retrying conflicts before answering concurrency_conflict. */
  deadlineMs: number;
  lockAfter: number;
  lockAfterMs: number;
  onLock: (() => void) | undefined;
  slots: SlotOptions;
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
    maxAttempts: opts.retry?.maxAttempts ?? 1_000,
    backoff: new ExponentialBackoff({
      // Short: a process runs one command per stream at a time, so the contenders on a stream are
      // the instances, not a herd; a long backoff only lets the winner's queue win again (ADR 0028).
      initialDelay: opts.retry?.initialDelayMs ?? 1,
      maxDelay: opts.retry?.maxDelayMs ?? 10,
    }),
  });
  if (opts.onRetry) policy.onRetry(opts.onRetry);
  const path: CommandPath<Tx> = {
    ...ports,
    states: new ScheduleStates(opts.cacheSize),
    queue: new KeyedQueue(),
    retry: policy,
    deadlineMs: opts.retry?.deadlineMs ?? 10_000,
    lockAfter: opts.retry?.lockAfter ?? 3,
    lockAfterMs: opts.retry?.lockAfterMs ?? 250,
    onLock: opts.onLock,
    slots: opts.slots ?? defaultSlotOptions,
  };
  return {
    execute: (req) => executeCommand(path, req),
    completeWithout: async (key, outcome) => {
      await completeAlone(path, { key }, outcome);
    },
  };
}

/** Runs the command and returns the outcome it committed with its key (a response or a problem). */
async function executeCommand<Tx>(path: CommandPath<Tx>, req: CommandRequest): Promise<StoredOutcome> {
  const result = await path.queue.run(req.streamId, async () => {
    const started = Date.now();
    const deadline = started + path.deadlineMs;
    const lockNow = (conflicts: number) =>
      conflicts >= path.lockAfter && Date.now() - started >= path.lockAfterMs;
    try {
      return await path.retry.execute(async ({ attempt: conflicts }) => {
        try {
          return await attempt(path, req, lockNow(conflicts));
        } catch (err) {
          // Past the deadline a conflict is no longer retried: the policy does not handle it.
          if (err instanceof WrongExpectedRevisionError && Date.now() >= deadline)
            throw new ConflictDeadlineError(err);
          throw err;
        }
      });
    } catch (err) {
      if (!(err instanceof WrongExpectedRevisionError) && !(err instanceof ConflictDeadlineError)) throw err;
      throw new AppError('concurrency_conflict', 'The schedule kept changing; retry the request', {
        cause: err,
        headers: { 'Retry-After': '1' },
      });
    }
  });
  // An outcome that writes nothing but the key is stored after leaving the stream's queue: the
  // next command on the stream need not wait for it.
  return 'committed' in result ? result.committed : completeAlone(path, req, result.keyOnly);
}

class ConflictDeadlineError extends Error {
  constructor(cause: WrongExpectedRevisionError) {
    super(`still conflicting at the deadline: ${cause.message}`, { cause });
    this.name = 'ConflictDeadlineError';
  }
}

async function attempt<Tx>(path: CommandPath<Tx>, req: CommandRequest, lock: boolean): Promise<Decided> {
  try {
    const decided = await decideAndCommit(path, req, lock);
    if ('committed' in decided) path.states.remember(req.streamId, decided.after);
    return decided;
  } catch (err) {
    // Lost the race: the cached state is a true prefix of the stream, to catch up from. Anything
    // else: it can no longer be trusted to match the stream.
    if (err instanceof WrongExpectedRevisionError) path.states.behind(req.streamId);
    else path.states.forget(req.streamId);
    throw err;
  }
}

/**
 * One attempt: load and decide, then append, index and complete the key in one transaction.
 * Reading happens before that transaction: the append's revision check is what makes a decision
 * safe, and the transaction then holds only the writes that must commit together. Under `lock`,
 * the stream's lock is taken first and the load, the decision and the writes all happen under it.
 * A decision with nothing to append returns its outcome for the caller to store with the key.
 */
async function decideAndCommit<Tx>(
  path: CommandPath<Tx>,
  req: CommandRequest,
  lock: boolean,
): Promise<Decided> {
  const locked = lock ? path.store.lockedTransaction?.bind(path.store) : undefined;
  if (locked) path.onLock?.();
  let barred: readonly string[] = [];
  // An offered patient found barred under their lock (a race): decide again without them.
  for (let redo = 0; ; redo++) {
    try {
      return await (locked ? lockedRound(path, req, barred, locked) : optimisticRound(path, req, barred));
    } catch (err) {
      // The session is another schedule's: the transaction rolled back, the refusal is the outcome.
      if (err instanceof SessionTakenError) return { keyOnly: sessionTaken(err) };
      if (!(err instanceof PatientRuleRefusedError)) throw err;
      if (err.patientRef === bookerOf(req.command) || redo >= 3) return { keyOnly: problemFor(err.error) };
      barred = [...barred, err.patientRef];
    }
  }
}

/** Decide on the cached state, or on the stream read now; the append's revision check decides. */
async function optimisticRound<Tx>(
  path: CommandPath<Tx>,
  req: CommandRequest,
  barred: readonly string[],
): Promise<Decided> {
  const { streamId } = req;
  // Deciding on the cached state saves the read: accepted, it is safe (a stale cache fails the
  // append's revision check); a rejection or a no-op counts only once decided on the stream as it
  // is now.
  const cached = path.states.cached(streamId);
  let loaded = cached ?? (await path.states.load(path.store, streamId));
  let decision = await judge(path, req, loaded, barred);
  if (cached && !(decision.ok && decision.events.length > 0)) {
    loaded = await path.states.load(path.store, streamId);
    decision = await judge(path, req, loaded, barred);
  }
  return settle(req, loaded, decision, (events, after) => commit(path, req, loaded, events, after));
}

/** Hold the stream's lock, read it, decide and write in that transaction: nobody can append between. */
function lockedRound<Tx>(
  path: CommandPath<Tx>,
  req: CommandRequest,
  barred: readonly string[],
  locked: NonNullable<EventStore<Tx>['lockedTransaction']>,
): Promise<Decided> {
  return locked(req.streamId, async (tx) => {
    const loaded = await path.states.load(tx, req.streamId);
    const decision = await judge(path, req, loaded, barred);
    return settle(req, loaded, decision, (events, after) => writeAll(path, tx, req, loaded, events, after));
  });
}

/**
 * A rejection (stored too: a retry of the key gets the same answer) or a no-op writes nothing but
 * the key's outcome: one statement, atomic on its own (executeCommand stores it). Events are written.
 */
function settle(
  req: CommandRequest,
  loaded: LoadedState,
  decision: Judged,
  write: (events: ScheduleStreamEvent[], after: StreamState) => Promise<Decided>,
): Decided | Promise<Decided> {
  if (!decision.ok) return { keyOnly: decision.outcome };
  const { events } = decision;
  const after = foldStream(events, streamOf(loaded));
  if (events.length > 0) return write(events, after);
  const reply = req.reply({ events, ...committedState(after), checkpoint: loaded.checkpoint });
  return { keyOnly: responseOf(reply, loaded.checkpoint) };
}

const streamOf = (loaded: LoadedState): StreamState => ({ schedule: loaded.state, book: loaded.book });
const committedState = (s: StreamState) => ({ state: s.schedule, book: s.book });

/** The patient a command books for themselves (a refusal of theirs is the command's answer). */
const bookerOf = (command: ScheduleStreamCommand): string | undefined =>
  command.type === 'BookAppointment' ? command.patientRef : undefined;

/**
 * Authorisation, then the decider: the events to append, or the problem that refuses them. A
 * command that may offer a freed slot learns first which waiting patients the per-patient rules
 * bar (read without a lock; the transaction checks again under it).
 */
async function judge<Tx>(
  path: CommandPath<Tx>,
  req: CommandRequest,
  loaded: LoadedState,
  alsoBarred: readonly string[],
): Promise<Judged> {
  const denied = req.authorize?.(loaded.state);
  if (denied) return { ok: false, outcome: denied };
  const command = await withBarred(path.patients, req.command, streamOf(loaded), alsoBarred);
  const decision = decideStream(command, streamOf(loaded), path.slots);
  return decision.ok ? decision : { ok: false, outcome: problemFor(decision.error) };
}

type Judged = { ok: true; events: ScheduleStreamEvent[] } | { ok: false; outcome: ProblemOutcome };

const sessionTaken = ({ session, scheduleId }: SessionTakenError): ProblemOutcome =>
  problem(
    'session_already_scheduled',
    `Schedule ${scheduleId ?? '(unknown)'} is open for doctor ${session.doctorId} on ${session.date} ${session.period}`,
    {
      invalidParams: (['doctorId', 'date', 'period'] as const).map((name) => ({
        name,
        reason: 'another schedule is open for this doctorId, date and period',
      })),
    },
  );

/** Append, index, claim or free sessions and complete the key: one transaction. */
async function commit<Tx>(
  path: CommandPath<Tx>,
  req: CommandRequest,
  loaded: LoadedState,
  events: ScheduleStreamEvent[],
  after: StreamState,
): Promise<Decided> {
  const { oneStatement } = path;
  if (oneStatement && loaded.revision !== undefined && oneStatement.covers(events, after.book))
    return commitInOneStatement(path, oneStatement, req, loaded.revision, events, after);
  return path.store.transaction((tx) => writeAll(path, tx, req, loaded, events, after));
}

/** What `commit` writes inside the store's transaction `tx`. */
async function writeAll<Tx>(
  path: CommandPath<Tx>,
  tx: EventStoreTransaction<Tx>,
  req: CommandRequest,
  loaded: LoadedState,
  events: ScheduleStreamEvent[],
  after: StreamState,
): Promise<Decided> {
  const { state, book } = committedState(after);
  const { streamId } = req;
  // 2. Append, expecting the loaded revision: a conflict throws and the retry reruns all of this.
  // Every stored event says which version of its type's schema it was written in (ADR 0009).
  const toAppend = events.map((e) => ({
    type: e.type,
    data: e.data,
    metadata: stampStreamVersion(e.type, req.metadata),
  }));
  const appended = await tx.appendToStream(streamId, toAppend, loaded.revision ?? 'no_stream');
  // 3. Index the booked appointments: addressable by id exactly when they exist.
  await path.appointments.add(tx.handle, bookedIn(streamId, events, state));
  // 3b. One open schedule per doctor session: the table's key holds it across streams.
  await path.sessions.apply(tx.handle, events);
  // 3c. Per-patient rules (numbered schedules): locked, checked, written; a refusal rolls back.
  if (path.patients && book && state.status !== 'initial')
    await path.patients.apply(tx.handle, events, scheduleRefOf(state), req.command.now);
  // 3d. The deadlines the events set and settle, with the holds themselves.
  await path.deadlines?.apply(tx.handle, streamId, events);
  // 3e. What a hospital or an admin changed, in the audit trail, with the change or not at all.
  if (req.audit && path.audit) await path.audit.record(tx.handle, req.audit(events));
  // 4. Complete the key with the response, last, so its row is locked only until COMMIT.
  const { checkpoint } = appended;
  const outcome = responseOf(req.reply({ events, state, book, checkpoint }), checkpoint);
  await req.beforeCommit?.();
  if (req.key) await path.keys.complete(tx.handle, req.key.principal, req.key.key, req.key.token, outcome);
  return {
    committed: outcome,
    after: { state, book, revision: appended.nextExpectedRevision, checkpoint },
  };
}

/**
 * What `commit` writes, as one statement (docs/adr/0023): the same rows, all or nothing. The
 * reply is built before the checkpoint exists, around a placeholder the statement replaces in the
 * stored outcome and this replaces in the returned one. `beforeCommit` runs before the statement
 * (nothing is written yet, as in the transaction before its COMMIT).
 */
async function commitInOneStatement<Tx>(
  path: CommandPath<Tx>,
  oneStatement: OneStatementCommit,
  req: CommandRequest,
  expectedRevision: bigint,
  events: ScheduleStreamEvent[],
  after: StreamState,
): Promise<Decided> {
  const { state, book } = committedState(after);
  const { streamId } = req;
  const placeholder = checkpointPlaceholder();
  const outcomeJson = JSON.stringify(
    responseOf(req.reply({ events, state, book, checkpoint: placeholder }), placeholder),
  );
  await req.beforeCommit?.();
  const { checkpoint, nextExpectedRevision } = await oneStatement.commit({
    streamId,
    expectedRevision,
    events: events.map((e) => ({
      type: e.type,
      data: e.data,
      metadata: stampStreamVersion(e.type, req.metadata),
    })),
    index: bookedIn(streamId, events, state),
    audit: req.audit && path.audit ? req.audit(events) : [],
    key: req.key,
    outcomeJson,
    placeholder,
  });
  const committed = JSON.parse(outcomeJson.replaceAll(placeholder, checkpoint)) as ResponseOutcome;
  return { committed, after: { state, book, revision: nextExpectedRevision, checkpoint } };
}

type Decided =
  /** Committed with the events; `after` is the stream's state once that transaction committed. */
  | { committed: StoredOutcome; after: LoadedState }
  /** Nothing to append: the outcome still has to be stored with the key. */
  | { keyOnly: StoredOutcome };

async function completeAlone<Tx, O extends StoredOutcome>(
  path: CommandPath<Tx>,
  req: Pick<CommandRequest, 'key' | 'beforeCommit'>,
  outcome: O,
): Promise<O> {
  await req.beforeCommit?.();
  if (req.key) await path.keys.completeAlone(req.key.principal, req.key.key, req.key.token, outcome);
  return outcome;
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
