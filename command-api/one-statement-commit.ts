/**
 * The common command commit as ONE statement (infra/migrations/014_command_commit.sql): append
 * expecting the stream's revision, index the booked appointments, record the audit entries and
 * complete the Idempotency-Key, in the implicit transaction of a single function call. A booking
 * then costs one round trip where BEGIN, four statements and COMMIT cost six, with the same
 * guarantees (docs/adr/0023-booking-round-trips.md).
 *
 * It covers the commands whose events need nothing else written: no session claimed or freed
 * (open-sessions.ts), no deadline set or settled (deadlines-table.ts), no per-patient rule row (a
 * numbered schedule, patient-bookings.ts). Everything else keeps the general transaction.
 */
import { randomUUID } from 'node:crypto';
import { deadlineChangesOf } from '../domain/deadlines.ts';
import type { ScheduleStreamEvent, SlotBook } from '../domain/slot-state.ts';
import type { AuditEntry } from '../platform/audit.ts';
import { currentContext } from '../platform/context.ts';
import {
  type Checkpoint,
  type EventToAppend,
  WrongExpectedRevisionError,
} from '../platform/event-store/event-store.ts';
import { observedAppend, type AppendOutcome } from '../platform/event-store/pg-event-store.ts';
import { encodeCheckpoint } from '../platform/event-store/pg-event-store.ts';
import { AppError } from '../platform/http/errors.ts';
import { type Queryable, sqlState, violatedConstraint } from '../platform/pg.ts';
import type { IndexedAppointment } from './appointment-index.ts';

export interface OneStatementInput {
  streamId: string;
  /** The loaded revision: only an existing stream takes this path. */
  expectedRevision: bigint;
  events: readonly EventToAppend[];
  index: readonly IndexedAppointment[];
  audit: readonly AuditEntry[];
  key: { principal: string; key: string; token: string } | undefined;
  /**
   * The outcome to store with the key, serialised, with `placeholder` wherever the checkpoint of
   * the last event goes (it is only known once the events are inserted).
   */
  outcomeJson: string;
  placeholder: string;
}

export interface OneStatementResult {
  checkpoint: Checkpoint;
  nextExpectedRevision: bigint;
}

export interface OneStatementCommit {
  /** Whether these events need nothing written beyond the append, the index, the audit and the key. */
  covers(events: readonly ScheduleStreamEvent[], book: SlotBook | null): boolean;
  /** Commits it all or nothing; a revision conflict throws WrongExpectedRevisionError. */
  commit(input: OneStatementInput): Promise<OneStatementResult>;
}

/** A string no serialised reply contains by chance. */
export const checkpointPlaceholder = (): string => `checkpoint-pending-${randomUUID()}`;

/** SQLSTATE the function raises when the key's claim was taken over (its lease lapsed). */
const KEY_TAKEN_OVER = 'BK409';

interface Row {
  global_position: string;
  transaction_id: string;
  stream_revision: string;
}

export class PgOneStatementCommit implements OneStatementCommit {
  readonly #db: Queryable;
  readonly #observeAppend: ((seconds: number, outcome: AppendOutcome) => void) | undefined;

  constructor(
    db: Queryable,
    opts: { observeAppend?: (seconds: number, outcome: AppendOutcome) => void } = {},
  ) {
    this.#db = db;
    this.#observeAppend = opts.observeAppend;
  }

  covers(events: readonly ScheduleStreamEvent[], book: SlotBook | null): boolean {
    if (book !== null) return false; // numbered: per-patient rules and holds
    if (events.some((e) => e.type === 'ScheduleOpened' || e.type === 'ScheduleClosed')) return false;
    const deadlines = deadlineChangesOf(events);
    return deadlines.set.length === 0 && deadlines.settledHolds.length === 0;
  }

  commit(input: OneStatementInput): Promise<OneStatementResult> {
    return observedAppend(this.#observeAppend, () => this.#commit(input));
  }

  async #commit(input: OneStatementInput): Promise<OneStatementResult> {
    const { streamId, events, index, audit, key } = input;
    let rows: Row[];
    try {
      ({ rows } = await this.#db.query<Row>({
        name: 'command_commit',
        text: `SELECT global_position, transaction_id, stream_revision FROM command_commit(
                 $1, $2, $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[],
                 $7::uuid[], $8::uuid[], $9::text[], $10::uuid[],
                 $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::jsonb[],
                 $19, $20, $21, $22::uuid, $23, $24)`,
        values: [
          streamId,
          String(input.expectedRevision),
          events.map((e) => e.id ?? randomUUID()),
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e.data)),
          events.map((e) => JSON.stringify(e.metadata ?? {})),
          index.map((r) => r.appointmentId),
          index.map((r) => r.scheduleId),
          index.map((r) => r.institutionId),
          index.map((r) => r.patientRef),
          audit.map((e) => e.actor.role),
          audit.map((e) => e.actor.id),
          audit.map((e) => e.actor.institutionId ?? null),
          audit.map((e) => e.action),
          audit.map((e) => e.outcome),
          audit.map((e) => e.subject.type),
          audit.map((e) => e.subject.id),
          audit.map((e) => JSON.stringify(e.detail ?? {})),
          currentContext()?.traceId ?? null,
          key?.principal ?? null,
          key?.key ?? null,
          key?.token ?? null,
          input.outcomeJson,
          input.placeholder,
        ],
      }));
    } catch (err) {
      if (sqlState(err) === KEY_TAKEN_OVER)
        throw new AppError('idempotency_key_in_flight', 'Another request took over this Idempotency-Key', {
          headers: { 'Retry-After': '1' },
        });
      if (sqlState(err) === '23505' && violatedConstraint(err) === 'events_stream_revision_key')
        throw new WrongExpectedRevisionError(streamId, input.expectedRevision, undefined);
      throw err;
    }
    const last = rows.reduce<Row | undefined>(
      (a, r) => (a === undefined || BigInt(r.stream_revision) > BigInt(a.stream_revision) ? r : a),
      undefined,
    );
    if (!last)
      throw new WrongExpectedRevisionError(streamId, input.expectedRevision, await this.#revision(streamId));
    return {
      checkpoint: encodeCheckpoint(last.transaction_id, last.global_position),
      nextExpectedRevision: BigInt(last.stream_revision),
    };
  }

  async #revision(streamId: string): Promise<bigint | 'no_stream'> {
    const { rows } = await this.#db.query<{ revision: string }>(
      'SELECT revision FROM event_streams WHERE stream_id = $1',
      [streamId],
    );
    return rows[0] ? BigInt(rows[0].revision) : 'no_stream';
  }
}
