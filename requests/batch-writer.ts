/**
 * Decides one chunk of a partition's booking requests and commits it (docs/adr/0015): in ONE
 * transaction — one durable commit for the whole chunk — it appends every schedule's new events
 * (expecting the revision it decided on), indexes the booked appointments, writes the holds'
 * deadlines and the per-patient rules' rows, records each request's outcome, completes each
 * request's Idempotency-Key with it, moves the partition's progress and notifies the waiting
 * readers (NOTIFY is delivered at COMMIT).
 *
 * Redelivery is harmless: a request whose row is already decided is skipped, so a chunk replayed
 * after a crash (the consumer's offset was not committed) books nobody twice; a chunk lost with
 * the crash was never committed, so it is decided on redelivery. An optimistic-concurrency
 * conflict (a synchronous booking, another processor after a rebalance) reruns the chunk on fresh
 * state.
 */
import { scheduleStreamName } from '../domain/schedule.ts';
import type { PatientRuleError } from '../domain/patient-rules.ts';
import type { ScheduleStreamEvent, SlotOptions, StreamState } from '../domain/slot-state.ts';
import { bookedIn, PgAppointmentIndex } from '../command-api/appointment-index.ts';
import { CHECKPOINT_HEADER } from '../command-api/command-path.ts';
import { PgDeadlines } from '../command-api/deadlines-table.ts';
import { PatientRuleRefusedError, scheduleRefOf } from '../command-api/patient-rules-port.ts';
import type { PgPatientBookings } from '../command-api/patient-bookings.ts';
import { problemFor } from '../command-api/problems.ts';
import { type LoadedState, ScheduleStates } from '../command-api/schedule-states.ts';
import { stampStreamVersion } from '../command-api/stream-versions.ts';
import {
  type Checkpoint,
  type EventStore,
  WrongExpectedRevisionError,
} from '../platform/event-store/event-store.ts';
import type { StoredOutcome } from '../platform/http/idempotency.ts';
import type { Pool, PoolClient, Queryable } from '../platform/pg.ts';
import { decideBatch, type RequestDecision } from './decide-batch.ts';
import type { BookingRequestMessage, RequestOutcome } from './request-message.ts';

export const DECIDED_CHANNEL = 'booking_request_decided';

export interface ChunkItem {
  offset: string;
  message: BookingRequestMessage;
}

export interface BatchWriterDeps {
  pool: Pool;
  store: Pick<EventStore<PoolClient>, 'transaction' | 'readStream'>;
  patients?: Pick<PgPatientBookings, 'apply'>;
  slots: SlotOptions;
  clock?: () => Date;
  maxAttempts?: number;
}

export interface ChunkResult {
  decided: number;
  booked: number;
  skipped: number;
  attempts: number;
}

interface Group {
  streamId: string;
  items: ChunkItem[];
}

interface Planned {
  group: Group;
  loaded: LoadedState;
  decisions: RequestDecision[];
  events: ScheduleStreamEvent[];
  after: StreamState;
}

export function createBatchWriter(deps: BatchWriterDeps) {
  const states = new ScheduleStates();
  const appointments = new PgAppointmentIndex(deps.pool);
  const deadlines = new PgDeadlines();
  const clock = deps.clock ?? (() => new Date());
  const maxAttempts = deps.maxAttempts ?? 50;

  async function plan(
    groups: Group[],
    refused: Map<string, PatientRuleError>,
    now: Date,
  ): Promise<Planned[]> {
    return Promise.all(
      groups.map(async (group) => {
        const loaded = await states.load(deps.store, group.streamId);
        const stream = { schedule: loaded.state, book: loaded.book };
        const messages = group.items.map((i) => i.message);
        return { group, loaded, ...decideBatch(messages, stream, now, deps.slots, refused) };
      }),
    );
  }

  async function commit(topic: string, partition: number, planned: Planned[], now: Date) {
    return deps.store.transaction(async (tx) => {
      const rows: DecidedRow[] = [];
      const after: [string, LoadedState][] = [];
      for (const p of planned) {
        const { streamId } = p.group;
        let checkpoint = p.loaded.checkpoint;
        let revision = p.loaded.revision;
        const checkpoints: Checkpoint[] = [];
        if (p.events.length > 0) {
          const appended = await tx.appendToStream(
            streamId,
            p.events.map((e, i) => ({ type: e.type, data: e.data, metadata: metadataOf(p, i) })),
            p.loaded.revision ?? 'no_stream',
          );
          for (const e of appended.events) checkpoints.push(e.checkpoint);
          checkpoint = appended.checkpoint;
          revision = appended.nextExpectedRevision;
          const state = p.after.schedule;
          await appointments.add(tx.handle, bookedIn(streamId, p.events, state));
          if (deps.patients && p.after.book && state.status !== 'initial')
            await deps.patients.apply(tx.handle, p.events, scheduleRefOf(state), now);
          await deadlines.apply(tx.handle, streamId, p.events);
        }
        rows.push(...decidedRows(p, checkpoints, checkpoint));
        if (revision !== undefined)
          after.push([streamId, { state: p.after.schedule, book: p.after.book, revision, checkpoint }]);
      }
      await recordOutcomes(tx.handle, topic, partition, rows);
      return after;
    });
  }

  /** Decides and commits `items` (one partition's, in offset order). */
  async function decide(topic: string, partition: number, items: readonly ChunkItem[]): Promise<ChunkResult> {
    const refused = new Map<string, PatientRuleError>();
    for (let attempt = 1; ; attempt++) {
      // Read again on every attempt: a request may have been decided by another member, or removed
      // by the accept path whose produce failed (command-api/rush-unqueued.ts), since the last one.
      const pending = await undecided(deps.pool, items);
      if (pending.length === 0) {
        if (items.length > 0) await advance(deps.pool, topic, partition, items);
        return { decided: 0, booked: 0, skipped: items.length, attempts: attempt - 1 };
      }
      const groups = groupBySchedule(pending);
      const now = clock();
      try {
        const planned = await plan(groups, refused, now);
        const after = await commit(topic, partition, planned, now);
        for (const [streamId, loaded] of after) states.remember(streamId, loaded);
        const booked = planned.reduce((n, p) => n + p.decisions.filter((d) => !d.error).length, 0);
        return { decided: pending.length, booked, skipped: items.length - pending.length, attempts: attempt };
      } catch (err) {
        for (const g of groups) states.forget(g.streamId);
        if (err instanceof PatientRuleRefusedError) {
          const who = pending.find(
            (i) => i.message.patientRef === err.patientRef && !refused.has(i.message.requestId),
          );
          if (who) {
            refused.set(who.message.requestId, err.error);
            continue;
          }
        }
        if (!(err instanceof WrongExpectedRevisionError) || attempt >= maxAttempts) throw err;
        await sleep(Math.random() * Math.min(200, 5 * 2 ** attempt));
      }
    }
  }

  return { decide };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function groupBySchedule(items: readonly ChunkItem[]): Group[] {
  const groups = new Map<string, Group>();
  for (const item of items) {
    const streamId = scheduleStreamName(item.message.scheduleId);
    let group = groups.get(streamId);
    if (!group) groups.set(streamId, (group = { streamId, items: [] }));
    group.items.push(item);
  }
  return [...groups.values()];
}

/** The chunk's requests not decided yet (a redelivered one is skipped), in offset order. */
async function undecided(db: Queryable, items: readonly ChunkItem[]): Promise<ChunkItem[]> {
  if (items.length === 0) return [];
  const { rows } = await db.query<{ request_id: string }>(
    `SELECT request_id FROM booking_requests
      WHERE request_id = ANY($1::uuid[]) AND status IN ('pending', 'queued')`,
    [items.map((i) => i.message.requestId)],
  );
  const open = new Set(rows.map((r) => r.request_id));
  const seen = new Set<string>();
  // A request produced twice (a retry after a crash between produce and acknowledgement) is decided once.
  return items.filter(
    (i) => open.has(i.message.requestId) && !seen.has(i.message.requestId) && seen.add(i.message.requestId),
  );
}

/** Event metadata: the request's trace, its id and who asked (a patient by reference). */
function metadataOf(p: Planned, eventIndex: number) {
  let index = eventIndex;
  for (let d = 0; d < p.decisions.length; d++) {
    const n = p.decisions[d]!.events.length;
    if (index < n) {
      const { message } = p.group.items[d]!;
      return stampStreamVersion(p.events[eventIndex]!.type, {
        ...(message.traceparent ? { traceparent: message.traceparent } : {}),
        requestId: message.requestId,
        actor: message.actor,
      });
    }
    index -= n;
  }
  return stampStreamVersion(p.events[eventIndex]!.type, {});
}

interface DecidedRow {
  requestId: string;
  offset: string;
  outcome: RequestOutcome;
  checkpoint: Checkpoint | undefined;
}

function decidedRows(
  p: Planned,
  checkpoints: readonly Checkpoint[],
  last: Checkpoint | undefined,
): DecidedRow[] {
  let cursor = 0;
  return p.decisions.map((d, i) => {
    const item = p.group.items[i]!;
    cursor += d.events.length;
    const checkpoint = d.events.length > 0 ? checkpoints[cursor - 1] : last;
    return { requestId: d.requestId, offset: item.offset, outcome: outcomeOf(d, item), checkpoint };
  });
}

function outcomeOf(d: RequestDecision, item: ChunkItem): RequestOutcome {
  if (d.error) {
    const problem = problemFor(d.error);
    return {
      status: 'rejected',
      reason: d.error.code,
      ...(problem.detail ? { detail: problem.detail } : {}),
    };
  }
  const taken = d.events.find((e) => e.type === 'SlotTaken');
  return {
    status: 'booked',
    appointmentId: item.message.appointmentId,
    ...(taken
      ? {
          slot: taken.data.slot,
          slotStartsAt: taken.data.slotStartsAt,
          holdExpiresAt: taken.data.holdExpiresAt,
        }
      : {}),
  };
}

/** The request resource as GET /v1/booking-requests/{id} and a retry of the key answer it once final. */
export function finalReply(
  requestId: string,
  scheduleId: string,
  outcome: RequestOutcome,
  checkpoint: string | undefined | null,
): StoredOutcome {
  return {
    kind: 'response',
    status: 200,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      Location: `/v1/booking-requests/${requestId}`,
      ...(checkpoint ? { [CHECKPOINT_HEADER]: checkpoint } : {}),
    },
    body: JSON.stringify({ requestId, scheduleId, ...outcome }),
  };
}

/** Outcomes, keys, progress and the wake-ups: the chunk transaction's last statements. */
async function recordOutcomes(db: Queryable, topic: string, partition: number, rows: readonly DecidedRow[]) {
  if (rows.length > 0) {
    const ids = rows.map((r) => r.requestId);
    const updated = await db.query<{ request_id: string; schedule_id: string }>(
      `UPDATE booking_requests r
          SET status = x.status, outcome = x.outcome::jsonb, checkpoint = x.checkpoint,
              kafka_partition = $6, kafka_offset = x.kafka_offset, decided_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[])
              AS x(request_id, status, outcome, checkpoint, kafka_offset)
        WHERE r.request_id = x.request_id AND r.status IN ('pending', 'queued')
        RETURNING r.request_id, r.schedule_id`,
      [
        ids,
        rows.map((r) => r.outcome.status),
        rows.map((r) => JSON.stringify(r.outcome)),
        rows.map((r) => r.checkpoint ?? null),
        rows.map((r) => r.offset),
        partition,
      ],
    );
    // Decided by someone else meanwhile (a rebalance): our events would book them twice.
    if (updated.rowCount !== rows.length)
      throw new WrongExpectedRevisionError('booking_requests', 'any', undefined);
    const scheduleOf = new Map(updated.rows.map((r) => [r.request_id, r.schedule_id]));
    // The key answers a retry with the final request from now on (guarded by the key's creation
    // time: a key purged and used again names another request).
    await db.query(
      `UPDATE idempotency_keys k
          SET status = 'completed', response = x.response::jsonb, completed_at = now()
         FROM booking_requests r, unnest($1::uuid[], $2::text[]) AS x(request_id, response)
        WHERE r.request_id = x.request_id AND k.principal = r.principal AND k.idem_key = r.idem_key
          AND k.created_at = r.key_created_at`,
      [
        ids,
        rows.map((r) =>
          JSON.stringify(finalReply(r.requestId, scheduleOf.get(r.requestId) ?? '', r.outcome, r.checkpoint)),
        ),
      ],
    );
    await db.query(`SELECT pg_notify($2, id) FROM unnest($1::text[]) AS id`, [ids, DECIDED_CHANNEL]);
  }
  const last = rows.at(-1);
  if (last) await setProgress(db, topic, partition, last.offset);
}

async function setProgress(db: Queryable, topic: string, partition: number, offset: string) {
  await db.query(
    `INSERT INTO booking_request_progress (topic, kafka_partition, decided_offset) VALUES ($1, $2, $3)
     ON CONFLICT (topic, kafka_partition) DO UPDATE
       SET decided_offset = GREATEST(booking_request_progress.decided_offset, EXCLUDED.decided_offset), updated_at = now()`,
    [topic, partition, offset],
  );
}

/** A chunk with nothing left to decide still moves the partition's progress (positions of later requests). */
async function advance(db: Queryable, topic: string, partition: number, items: readonly ChunkItem[]) {
  await setProgress(db, topic, partition, items.at(-1)!.offset);
}
