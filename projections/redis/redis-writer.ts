/**
 * The thin I/O half of the Redis read models: two round trips per batch.
 *
 *   1. one pipeline: GET the version pointer + HGETALL every schedule hash the batch touches;
 *   2. fold each stream's events with the pure `scheduleEffects`, and send its guarded script
 *      call as soon as its fold is done (Redis applies one stream while the next is folded).
 *
 * The guard (APPLY_LUA) runs the stream's writes — availability, appointments, patient lists
 * and the homepage counters alike — only if the stream's stored revision is still the one the
 * fold started from and is below the new revision, and stores the new revision in the same
 * atomic step. Redelivered, replayed or concurrently applied events therefore never count twice.
 *
 * Gaps: a stream whose next event is not `rev + 1` (an earlier event was dead-lettered, or the
 * live projector meets a freshly rebuilt keyspace) is filled from the event store's stream before
 * folding; without an event store the gap makes the event poison.
 */
import type { RedisClient } from '../../platform/redis.ts';
import type { Result } from 'ioredis';
import { PATIENT_STREAM_PREFIX, parsePatientForgotten } from '../../domain/patient-events.ts';
import type { RecordedEvent } from '../../platform/event-store/event-store.ts';
import { sealLegacyPatients } from '../../platform/legacy-patients.ts';
import type { ProjectorPatients } from '../../platform/patient-vault.ts';
import type { Logger } from '../../platform/logger.ts';
import {
  epochKey,
  keyspace,
  type Keyspace,
  parseScheduleHash,
  type ScheduleView,
  storedRevision,
  versionKey,
} from '../../read-models/bookings.ts';
import { envelopeOf, type EventEnvelope } from '../relay/event-message.ts';
import { TransientError } from '../runtime/errors.ts';
import { SCHEDULE_STREAM_PREFIX } from '../schedule-events.ts';
import { appointmentFacts, startsWith } from './appointment-facts.ts';
import { coalesceOps, type RedisOp, scheduleEffects } from './read-model.ts';
import { parseStreamEvent } from './stream-events.ts';

/**
 * KEYS[1]: the schedule hash holding `rev`; KEYS[2]: the keyspace's epoch marker; KEYS[3..]: every
 * other key the writes touch.
 * ARGV[1]: revision the fold started from (-1: none); ARGV[2]: new revision;
 * ARGV[3]: event-store checkpoint of the new revision's event, stored as `cp` for read-your-writes;
 * ARGV[4]: '1' when the write needs the epoch marker (a live write), '0' otherwise (a rebuild);
 * ARGV[5]: the writes, one JSON array, flat: cmd, keyIndex, argc, arg1..argN, cmd, … (keyIndex and
 * argc numbers, the arguments strings). One string instead of thousands of arguments: the client
 * encodes (and Redis reads) it in one piece, and cjson decodes it in C — the per-argument encoding
 * of a pipeline of 100 bookings a stream was a fifth of the projector's CPU.
 * Two pseudo-commands keep a batch's arguments short: `SHARED` (keyIndex ignored) names arguments
 * that `HSETS` (an HSET) puts before its own — the schedule's facts, which every appointment hash
 * repeats, sent once per call instead of once per booking.
 * Returns 1 applied, 0 already applied, -1 conflict, -2 no epoch marker (the keyspace was lost: a
 * live write would recreate part of it, and the guard would take that part for the whole).
 */
export const APPLY_LUA = `
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[2]) == 0 then return -2 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'rev') or '-1')
local new = tonumber(ARGV[2])
if cur >= new then return 0 end
if cur ~= tonumber(ARGV[1]) then return -1 end
local allowed = { HSET = true, HINCRBY = true, ZADD = true, ZINCRBY = true, ZREM = true }
local w = cjson.decode(ARGV[5])
-- One table for every HSETS of the call: the shared arguments stay in front, each HSETS writes its
-- own after them and unpacks up to its last (what an earlier, longer one left beyond is not read).
local a, nshared = {}, 0
local i = 1
local n = #w
while i <= n do
  local cmd = w[i]
  local key = KEYS[tonumber(w[i + 1])]
  local argc = tonumber(w[i + 2])
  if cmd == 'SHARED' then
    a, nshared = {}, argc
    for j = 1, argc do a[j] = w[i + 2 + j] end
  elseif cmd == 'HSETS' then
    for j = 1, argc do a[nshared + j] = w[i + 2 + j] end
    redis.call('HSET', key, unpack(a, 1, nshared + argc))
  elseif allowed[cmd] then
    redis.call(cmd, key, unpack(w, i + 3, i + 2 + argc))
  else
    return redis.error_reply('command not allowed: ' .. tostring(cmd))
  end
  i = i + 3 + argc
end
redis.call('HSET', KEYS[1], 'rev', ARGV[2], 'cp', ARGV[3])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Keys and arguments as arrays: ioredis flattens them once (no spread of hundreds of keys). */
    rmApply(numKeys: number, keys: readonly string[], argv: readonly string[]): Result<number, Context>;
  }
}

const defined = new WeakSet<RedisClient>();

export function defineApplyCommand(redis: RedisClient): void {
  if (defined.has(redis)) return;
  redis.defineCommand('rmApply', { lua: APPLY_LUA });
  defined.add(redis);
}

/** Where missing events of a stream come from: the event store. */
export interface StreamHistory {
  readStream(streamId: string, opts: { fromRevision: number; maxCount: number }): Promise<RecordedEvent[]>;
}

export interface WriteItem<S> {
  envelope: EventEnvelope;
  /** The Kafka message it came from (reported back when poison); absent for replays from the store. */
  source?: S;
}

export interface WriteResult<S> {
  applied: number;
  duplicates: number;
  ignored: number;
  filled: number;
  poison: { source: S; reason: string }[];
  version: number;
}

export interface RedisWriterOptions {
  redis: RedisClient;
  /** Key root, default `rm`. */
  root?: string;
  history?: StreamHistory;
  /**
   * The vault: lifts v1 records (patient id in clear) to v2, and says which patients are already
   * forgotten so their bookings are written anonymous. Without it a v1 record is poison.
   */
  patients?: ProjectorPatients;
  /**
   * Live writes only while the keyspace's epoch marker exists (the live projector): after a flush
   * they wait (a transient error, retried) for the rebuild instead of recreating part of the read
   * model. Writes to a fixed version (a rebuild) never wait.
   */
  requireEpoch?: boolean;
  logger: Logger;
}

interface StreamWrite {
  streamId: string;
  fromRev: number;
  toRev: number;
  /** Checkpoint of the event at `toRev`: what the query API compares read-your-writes against. */
  checkpoint: string;
  /** The script's KEYS: the schedule hash, the epoch marker, then every key the writes touch. */
  keys: string[];
  /** The script's writes, encoded (ARGV[5]). */
  writes: string;
}

interface StreamFold<S> {
  streamId: string;
  write?: StreamWrite;
  applied: number;
  duplicates: number;
  ignored: number;
  filled: number;
  poison: { source: S; reason: string }[];
}

/** The events that write a patient's identity or list: a booking, its slot, a waitlist entry. */
const WRITES_PATIENT: ReadonlySet<string> = new Set(['AppointmentBooked', 'SlotTaken', 'WaitlistJoined']);

const scheduleIdOf = (streamId: string) => streamId.slice(SCHEDULE_STREAM_PREFIX.length);

export class RedisReadModelWriter {
  readonly root: string;
  readonly #redis: RedisClient;
  readonly #history: StreamHistory | undefined;
  readonly #log: Logger;
  readonly #patients: ProjectorPatients | undefined;
  #version: number | undefined;
  readonly #requireEpoch: boolean;

  constructor(opts: RedisWriterOptions) {
    this.root = opts.root ?? 'rm';
    this.#redis = opts.redis;
    this.#history = opts.history;
    this.#log = opts.logger;
    this.#patients = opts.patients;
    this.#requireEpoch = opts.requireEpoch ?? false;
    defineApplyCommand(this.#redis);
  }

  /** The live version (creating pointer = 1 on first use). */
  async liveVersion(): Promise<number> {
    await this.#redis.set(versionKey(this.root), '1', 'NX');
    const v = Number(await this.#redis.get(versionKey(this.root)));
    this.#version = v;
    return v;
  }

  /**
   * Applies the items (in log order) to `version`, or to the live version read in the same round
   * trip as the schedule hashes. Idempotent.
   */
  async write<S>(input: readonly WriteItem<S>[], opts: { version?: number } = {}): Promise<WriteResult<S>> {
    const items = await this.#sealLegacy(input);
    const result: WriteResult<S> = {
      applied: 0,
      duplicates: 0,
      ignored: 0,
      filled: 0,
      poison: [],
      version: 0,
    };
    const byStream = new Map<string, WriteItem<S>[]>();
    const forgets: string[] = [];
    for (const item of items) {
      const forgotten = item.envelope.streamId.startsWith(PATIENT_STREAM_PREFIX)
        ? parsePatientForgotten(item.envelope)
        : undefined;
      if (forgotten) {
        forgets.push(forgotten.data.patientRef);
        this.#patients?.invalidate(forgotten.data.patientRef);
        continue;
      }
      if (!item.envelope.streamId.startsWith(SCHEDULE_STREAM_PREFIX)) {
        result.ignored += 1;
        continue;
      }
      const list = byStream.get(item.envelope.streamId);
      if (list) list.push(item);
      else byStream.set(item.envelope.streamId, [item]);
    }
    const anonymous = await this.#forgottenAmong(items);
    let pending = [...byStream.keys()];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= 5) throw new TransientError(`revision conflicts persist on ${pending.length} stream(s)`);
      const { version, hashes } = await this.#read(pending, opts.version);
      result.version = version;
      const keys = reusedKeys(keyspace(this.root, version));
      const guarded = this.#requireEpoch && opts.version === undefined;
      // Each stream's script is sent as soon as its fold is done, not after the chunk's last fold:
      // Redis runs one stream's writes while this process folds the next (one pipeline at the end
      // left Redis idle during the folds and this process idle during the scripts).
      const applied: Promise<number>[] = [];
      const folds: StreamFold<S>[] = [];
      const folding: Promise<void>[] = [];
      const send = (fold: StreamFold<S>) => {
        folds.push(fold);
        if (fold.write) applied.push(this.#apply(fold.write, guarded));
      };
      for (let i = 0; i < pending.length; i++) {
        const streamId = pending[i]!;
        let fold: StreamFold<S> | Promise<StreamFold<S>>;
        try {
          fold = this.#fold(streamId, byStream.get(streamId) ?? [], hashes[i] ?? {}, keys, anonymous);
        } catch (err) {
          // Thrown once the scripts already sent have answered (settled, below).
          folding.push(Promise.reject(err instanceof Error ? err : new Error(String(err))));
          continue;
        }
        if (fold instanceof Promise) folding.push(fold.then(send));
        else send(fold);
      }
      const conflicts = new Set(await settled(folding, applied, folds));
      for (const fold of folds) {
        if (conflicts.has(fold.streamId)) continue;
        result.applied += fold.applied;
        result.duplicates += fold.duplicates;
        result.ignored += fold.ignored;
        result.filled += fold.filled;
        result.poison.push(...fold.poison);
      }
      pending = [...conflicts];
      if (pending.length) this.#log.debug({ conflicts: pending.length }, 'revision conflict: re-reading');
    }
    if (forgets.length) {
      result.version = await this.#forget(forgets, opts.version);
      result.applied += forgets.length;
    }
    return result;
  }

  /** v1 records (patient id in clear) lifted to v2 through the vault (docs/adr/0010). */
  async #sealLegacy<S>(items: readonly WriteItem<S>[]): Promise<WriteItem<S>[]> {
    const envelopes = await sealLegacyPatients(
      items.map((i) => i.envelope),
      this.#patients,
    );
    return items.map((item, i) =>
      envelopes[i] === item.envelope ? item : { ...item, envelope: envelopes[i]! },
    );
  }

  /** References of the batch's bookings whose patient is already forgotten (their key is gone). */
  async #forgottenAmong<S>(items: readonly WriteItem<S>[]): Promise<Set<string>> {
    if (!this.#patients) return new Set();
    const refs = new Set<string>();
    for (const { envelope } of items) {
      const ref = (envelope.data as { patientRef?: unknown } | null)?.patientRef;
      if (WRITES_PATIENT.has(envelope.type) && typeof ref === 'string') refs.add(ref);
    }
    if (refs.size === 0) return refs;
    const known = await this.#patients.pseudonyms(refs);
    return new Set([...refs].filter((ref) => !known.has(ref)));
  }

  /**
   * Forgets patients in the read model: their appointment list goes, and their appointments keep
   * everything but `patientRef` and `patient` (anonymous). Idempotent; not revision-guarded (it
   * only ever removes).
   */
  async #forget(refs: readonly string[], fixed: number | undefined): Promise<number> {
    const version = fixed ?? this.#version ?? (await this.liveVersion());
    const keys = keyspace(this.root, version);
    for (const ref of refs) {
      const list = keys.patientAppointments(ref);
      const ids = await this.#redis.zrange(list, 0, -1);
      const pipeline = this.#redis.pipeline();
      for (const id of ids) pipeline.hdel(keys.appointment(id), 'patientRef', 'patient');
      pipeline.del(list);
      unwrap(await pipeline.exec());
    }
    return version;
  }

  async #read(streamIds: string[], fixed: number | undefined) {
    const hget = (version: number) =>
      streamIds.map((id) => ['hgetall', keyspace(this.root, version).schedule(scheduleIdOf(id))]);
    if (fixed !== undefined) {
      const replies = await this.#redis.pipeline(hget(fixed)).exec();
      return { version: fixed, hashes: unwrap<Record<string, string>>(replies) };
    }
    const cached = this.#version ?? (await this.liveVersion());
    const replies = unwrap<unknown>(
      await this.#redis.pipeline([['get', versionKey(this.root)], ...hget(cached)]).exec(),
    );
    const live = Number(replies[0] ?? cached);
    if (live === cached) return { version: cached, hashes: replies.slice(1) as Record<string, string>[] };
    this.#log.info({ from: cached, to: live }, 'read-model version switched');
    this.#version = live;
    return {
      version: live,
      hashes: unwrap<Record<string, string>>(await this.#redis.pipeline(hget(live)).exec()),
    };
  }

  /**
   * A stream's fold: synchronous (so that its script is sent before the next stream is folded)
   * unless a gap has to be filled from the event store first.
   */
  #fold<S>(
    streamId: string,
    items: WriteItem<S>[],
    hash: Record<string, string>,
    keys: Keyspace,
    anonymous: ReadonlySet<string>,
  ): StreamFold<S> | Promise<StreamFold<S>> {
    const fromRev = storedRevision(hash);
    const result: StreamFold<S> = { streamId, applied: 0, duplicates: 0, ignored: 0, filled: 0, poison: [] };
    // The first copy of a revision wins; what is already applied is dropped.
    const byRev = new Map<number, WriteItem<S>>();
    let maxRev = fromRev;
    for (const item of items) {
      const rev = item.envelope.revision;
      if (rev <= fromRev || byRev.has(rev)) result.duplicates += 1;
      else {
        byRev.set(rev, item);
        if (rev > maxRev) maxRev = rev;
      }
    }
    if (byRev.size === 0) return result;
    const fold = () => this.#foldEvents(streamId, byRev, fromRev, hash, keys, anonymous, result);
    if (byRev.size === maxRev - fromRev || !this.#history) return fold();
    const history = this.#history;
    return (async () => {
      const missing = await history.readStream(streamId, {
        fromRevision: fromRev + 1,
        maxCount: maxRev - fromRev,
      });
      for (const event of await sealLegacyPatients(missing, this.#patients)) {
        const rev = Number(event.revision);
        if (!byRev.has(rev)) {
          byRev.set(rev, { envelope: envelopeOf(event) });
          result.filled += 1;
        }
      }
      return fold();
    })();
  }

  #foldEvents<S>(
    streamId: string,
    byRev: Map<number, WriteItem<S>>,
    fromRev: number,
    hash: Record<string, string>,
    keys: Keyspace,
    anonymous: ReadonlySet<string>,
    result: StreamFold<S>,
  ): StreamFold<S> {
    let view: ScheduleView | null = parseScheduleHash(hash);
    const ops: RedisOp[] = [];
    let rev = fromRev;
    let checkpoint = '';
    let parked: string | undefined;
    for (const r of [...byRev.keys()].sort((a, b) => a - b)) {
      const item = byRev.get(r)!;
      if (parked === undefined && r !== rev + 1)
        parked = `gap in ${streamId}: revision ${rev + 1} missing before ${r}`;
      if (parked !== undefined) {
        if (item.source !== undefined) result.poison.push({ source: item.source, reason: parked });
        continue;
      }
      const parsed = parseStreamEvent(item.envelope);
      if (parsed.kind === 'poison') {
        parked = `${parsed.reason} (stream parked at revision ${rev})`;
        if (item.source !== undefined) result.poison.push({ source: item.source, reason: parsed.reason });
        else throw new Error(`event store holds an unreadable event: ${parsed.reason}`);
        continue;
      }
      if (parsed.kind === 'schedule') {
        try {
          const effect = scheduleEffects(view, parsed.event, r, keys, anonymous);
          view = effect.view;
          ops.push(...effect.ops);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          parked = reason;
          if (item.source !== undefined) result.poison.push({ source: item.source, reason });
          continue;
        }
      } else {
        result.ignored += 1;
      }
      result.applied += 1;
      rev = r;
      checkpoint = item.envelope.checkpoint;
    }
    if (rev > fromRev) {
      // Encoded now, stream by stream: the fold's ops die young instead of outliving the whole
      // chunk's folds (the garbage collector copied them from one young space to the next).
      const encoded = encodeWrites(
        keys.schedule(scheduleIdOf(streamId)),
        epochKey(this.root),
        view ? appointmentFacts(view) : [],
        coalesceOps(ops),
      );
      result.write = { streamId, fromRev, toRev: rev, checkpoint, ...encoded };
    }
    return result;
  }

  /** One stream's guarded script call, sent now (see APPLY_LUA for the replies). */
  #apply(fold: StreamWrite, guarded: boolean): Promise<number> {
    const argv = [
      String(fold.fromRev),
      String(fold.toRev),
      fold.checkpoint,
      guarded ? '1' : '0',
      fold.writes,
    ];
    return this.#redis.rmApply(fold.keys.length, fold.keys, argv);
  }
}

/**
 * Waits for every fold and every script call of one attempt (none is left running when it throws),
 * then returns the streams whose script met a revision conflict. A failed call or fold throws the
 * first error, and a lost keyspace (no epoch marker) a transient error, as one pipeline's did.
 */
async function settled<S>(
  folding: readonly Promise<void>[],
  applied: readonly Promise<number>[],
  folds: readonly StreamFold<S>[],
): Promise<string[]> {
  const done = await Promise.allSettled([...folding]);
  // Only now is every script sent: a fold that waited for the event store sends its own late.
  const replies = await Promise.allSettled(applied);
  for (const r of [...done, ...replies]) if (r.status === 'rejected') throw r.reason;
  const values = replies.map((r) => (r as PromiseFulfilledResult<number>).value);
  if (values.includes(-2)) {
    throw new TransientError('booking read model lost (no epoch marker): waiting for its rebuild');
  }
  const written = folds.filter((f) => f.write);
  return written.filter((_, i) => values[i] === -1).map((f) => f.streamId);
}

/**
 * A stream's coalesced ops as APPLY_LUA reads them: KEYS (the schedule hash, the epoch marker, then
 * each other key once) and the writes as one JSON array, the facts sent once (`SHARED`) for the
 * appointment HSETs that start with them (`HSETS`).
 */
function encodeWrites(
  scheduleKey: string,
  epoch: string,
  facts: readonly string[],
  ops: readonly RedisOp[],
): { keys: string[]; writes: string } {
  const keys = [scheduleKey, epoch];
  const index = new Map<string, number>([
    [scheduleKey, 1],
    [epoch, 2],
  ]);
  const writes: (string | number)[] = [];
  if (facts.length > 0) writes.push('SHARED', 1, facts.length, ...facts);
  for (const op of ops) {
    let i = index.get(op.key);
    if (i === undefined) {
      keys.push(op.key);
      i = keys.length;
      index.set(op.key, i);
    }
    const args = op.args;
    const from = op.cmd === 'HSET' && facts.length > 0 && startsWith(args, facts) ? facts.length : 0;
    writes.push(from > 0 ? 'HSETS' : op.cmd, i, args.length - from);
    for (let k = from; k < args.length; k++) writes.push(args[k]!);
  }
  return { keys, writes: JSON.stringify(writes) };
}

/**
 * The keyspace with the keys a stream's every event writes (its schedule, day list, the day's
 * counters) built once per id and handed out as the same string: the fold and coalesceOps look
 * each op's key up, and a fresh string per event has to be flattened and hashed again each time.
 * Scoped to one write; the per-booking keys (appointment, patient list) are built as they come.
 */
function reusedKeys(keys: Keyspace): Keyspace {
  const once = (build: (id: string) => string) => {
    const built = new Map<string, string>();
    return (id: string) => {
      let key = built.get(id);
      if (key === undefined) built.set(id, (key = build(id)));
      return key;
    };
  };
  return {
    ...keys,
    schedule: once((id) => keys.schedule(id)),
    scheduleAppointments: once((id) => keys.scheduleAppointments(id)),
    doctorSchedules: once((id) => keys.doctorSchedules(id)),
    doctorDays: once((id) => keys.doctorDays(id)),
    bookingsByInstitution: once((id) => keys.bookingsByInstitution(id)),
    bookingsByDepartment: once((id) => keys.bookingsByDepartment(id)),
    hotDepartments: once((id) => keys.hotDepartments(id)),
  };
}

function unwrap<T>(replies: [Error | null, unknown][] | null): T[] {
  if (!replies) throw new TransientError('Redis pipeline was discarded');
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value as T;
  });
}
