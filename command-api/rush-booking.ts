/**
 * POST /v1/appointments for a schedule in rush mode (docs/adr/0015): validate, claim the
 * Idempotency-Key, give the request its ids (a `booking_requests` row, BEFORE producing: a retry of
 * the key after a crash produces the same request again, and the processor decides a request id
 * once), produce it to `booking.requests` (idempotent producer, acks=all), then mark it queued and
 * complete the key with 202 + Location in one transaction. Kafka not answering: 503 with
 * Retry-After, the key released. A schedule not in rush mode goes on to the synchronous route.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { principalOf, principalScope, type Principal } from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import {
  parseIdempotencyKey,
  type PgIdempotencyStore,
  requestFingerprint,
  type StoredOutcome,
} from '../platform/http/idempotency.ts';
import type { PatientVault } from '../platform/patient-vault.ts';
import type { AuditEntry } from '../platform/audit.ts';
import { type Pool, type Queryable, withTransaction } from '../platform/pg.ts';
import { currentContext, toTraceparent } from '../platform/context.ts';
import { finalReply } from '../requests/batch-writer.ts';
import type { BookingRequestMessage } from '../requests/request-message.ts';
import { send } from './command-route.ts';
import { bookAppointmentRoute } from './route-specs.ts';
import { acceptedBookingAudit } from './rush-audit.ts';
import { dropUnqueued, type RequestRow } from './rush-unqueued.ts';
import type { RushAutoSwitch } from './rush-auto-switch.ts';
import type { RushModes } from './rush-modes.ts';
import { KafkaUnavailableError, type RushQueue } from './rush-queue.ts';
import { patientChannelOnly, requireOwnInstitution } from './tenancy.ts';

export interface RushBookingDeps {
  pool: Pool;
  modes: RushModes;
  queue: RushQueue;
  topic: string;
  idempotency: Pick<PgIdempotencyStore, 'claim' | 'release' | 'keep'>;
  patients: Pick<PatientVault, 'resolve' | 'digest'>;
  clock: () => Date;
  /** The audit trail: a hospital's or an admin's booking is recorded as it is accepted. */
  audit?: { record(db: Queryable, entries: readonly AuditEntry[]): Promise<void> };
  /** The automatic switch by booking rate (absent: RUSH_AUTO_THRESHOLD_PER_S unset). */
  auto?: Pick<RushAutoSwitch, 'observe'>;
}

export function rushBooking(deps: RushBookingDeps): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const rawBody: unknown = req.body ?? {};
    const parsed = bookAppointmentRoute.body.safeParse(rawBody);
    // Anything the synchronous route would refuse, it refuses (one catalogue of problems).
    if (!parsed.success || !req.header('Idempotency-Key')) return next();
    const body = parsed.data;
    let mode = await deps.modes.of(body.scheduleId);
    // Not (yet) in rush mode: counted, and switched on when the schedule's booking rate is above the threshold.
    if (!mode.enabled && (await deps.auto?.observe(body.scheduleId)))
      mode = await deps.modes.of(body.scheduleId);
    if (!mode.enabled) return next();
    const key = parseIdempotencyKey(req);
    const principal = principalOf(req);
    authorize(principal, body, mode.institutionId);

    const scope = principalScope(principal, deps.patients);
    const fingerprint = requestFingerprint(req.method, req.originalUrl.split('?')[0] ?? req.path, rawBody);
    const claim = await deps.idempotency.claim(scope, key, fingerprint);
    if (claim.kind === 'completed') return send(res, claim.outcome, true);
    const { token } = claim;
    const letGo = deps.idempotency.keep(scope, key, token);
    const k = { scope, key, token };
    let row: RequestRow | undefined;
    let audited: AuditEntry[] = [];
    try {
      const { patientRef, patient } = await deps.patients.resolve(body.patientId);
      row = await requestRow(deps.pool, { scope, key, scheduleId: body.scheduleId, patientRef });
      audited = acceptedBookingAudit(principal, {
        appointmentId: row.appointment_id,
        scheduleId: row.schedule_id,
        requestId: row.request_id,
      });
      // Produced by an attempt that died before its acceptance committed, and decided since.
      if (row.status === 'booked' || row.status === 'rejected')
        return send(res, await answerFinal(deps.pool, deps.audit, row, k, audited), false);
      const message = messageOf(deps, principal, body, row, { patientRef, patient });
      const queued = await deps.queue.enqueue(body.scheduleId, JSON.stringify(message));
      const outcome = await markQueued(deps, row, queued, k, audited);
      send(res, outcome, false);
    } catch (err) {
      // Not acknowledged: the request goes with the failure (docs/adr/0015 §11), unless the
      // processor decided it meanwhile (the record landed after all): then that is the answer.
      const decided = row ? await dropUnqueued(deps.pool, row.request_id).catch(() => undefined) : undefined;
      if (decided) return send(res, await answerFinal(deps.pool, deps.audit, decided, k, audited), false);
      await deps.idempotency.release(scope, key, token).catch(() => undefined);
      if (err instanceof KafkaUnavailableError)
        throw new AppError('dependency_unavailable', 'The booking queue is unavailable; retry later', {
          cause: err,
          headers: { 'Retry-After': '2' },
        });
      throw err;
    } finally {
      letGo();
    }
  };
}

function authorize(
  principal: Principal,
  body: { patientId: string; channel?: string | undefined },
  institutionId: string,
) {
  if (principal.role === 'patient' && body.patientId !== principal.sub)
    throw new AppError('forbidden', 'Patients may only book for themselves');
  patientChannelOnly(principal, body.channel);
  requireOwnInstitution(principal, institutionId);
}

function messageOf(
  deps: RushBookingDeps,
  principal: Principal,
  body: { scheduleId: string; slot?: number | undefined; channel?: string | undefined },
  row: RequestRow,
  who: { patientRef: string; patient: string },
): BookingRequestMessage {
  return {
    v: 1,
    requestId: row.request_id,
    appointmentId: row.appointment_id,
    scheduleId: body.scheduleId,
    patientRef: who.patientRef,
    patient: who.patient,
    ...(body.slot === undefined ? {} : { slot: body.slot }),
    ...(body.channel === undefined ? {} : { channel: body.channel }),
    actor:
      principal.role === 'patient'
        ? { id: who.patientRef, role: 'patient' }
        : { id: principal.sub, role: principal.role },
    acceptedAt: deps.clock().toISOString(),
    ...traceOf(),
  };
}

/** The key answers with the request's final outcome (and the booking act is audited with it). */
async function answerFinal(
  pool: Pool,
  audit: RushBookingDeps['audit'],
  row: RequestRow,
  k: { scope: string; key: string; token: string },
  audited: readonly AuditEntry[],
): Promise<StoredOutcome> {
  const outcome = finalReply(row.request_id, row.schedule_id, row.outcome!, row.checkpoint);
  await withTransaction(pool, async (db) => {
    if (await completeKey(db, k.scope, k.key, k.token, outcome)) await audit?.record(db, audited);
  });
  return outcome;
}

const traceOf = () => {
  const ctx = currentContext();
  return ctx ? { traceparent: toTraceparent(ctx) } : {};
};

/** The request this key names: the one a previous attempt created, or a new one. */
async function requestRow(
  pool: Pool,
  r: { scope: string; key: string; scheduleId: string; patientRef: string },
): Promise<RequestRow> {
  const { rows } = await pool.query<RequestRow>(
    `INSERT INTO booking_requests (request_id, appointment_id, schedule_id, principal, idem_key, key_created_at, patient_ref, status)
     SELECT $1, $2, $3, $4, $5, k.created_at, $6, 'pending'
       FROM idempotency_keys k WHERE k.principal = $4 AND k.idem_key = $5
     ON CONFLICT (principal, idem_key, key_created_at) DO UPDATE SET principal = EXCLUDED.principal
     RETURNING request_id, appointment_id, schedule_id, status, outcome, checkpoint`,
    [randomUUID(), randomUUID(), r.scheduleId, r.scope, r.key, r.patientRef],
  );
  const row = rows[0];
  if (!row) throw new Error('the Idempotency-Key claim vanished');
  return row;
}

async function completeKey(
  db: Pick<Pool, 'query'>,
  scope: string,
  key: string,
  token: string,
  outcome: StoredOutcome,
) {
  const { rowCount } = await db.query(
    `UPDATE idempotency_keys SET status = 'completed', response = $4, completed_at = now()
      WHERE principal = $1 AND idem_key = $2 AND lease_token = $3 AND status = 'in_flight'`,
    [scope, key, token, JSON.stringify(outcome)],
  );
  return rowCount === 1;
}

/**
 * Queued, and the key's answer: 202 with the place in the queue. The processor may have been
 * faster (it decided the request and completed the key already): then its final answer stands.
 */
async function markQueued(
  deps: RushBookingDeps,
  row: RequestRow,
  queued: { partition: number; offset: string },
  k: { scope: string; key: string; token: string },
  audited: readonly AuditEntry[],
): Promise<StoredOutcome> {
  return withTransaction(deps.pool, async (db) => {
    // Accepted: the booking act is in the trail with the acceptance, or neither is.
    await deps.audit?.record(db, audited);
    await db.query(
      `UPDATE booking_requests SET status = 'queued', kafka_partition = $2, kafka_offset = $3
        WHERE request_id = $1 AND status = 'pending'`,
      [row.request_id, queued.partition, queued.offset],
    );
    const { rows } = await db.query<{ decided_offset: string | null }>(
      `SELECT decided_offset FROM booking_request_progress WHERE topic = $1 AND kafka_partition = $2`,
      [deps.topic, queued.partition],
    );
    const decided = BigInt(rows[0]?.decided_offset ?? '-1');
    const position = Math.max(1, Number(BigInt(queued.offset) - decided));
    const outcome: StoredOutcome = {
      kind: 'response',
      status: 202,
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        Location: `/v1/booking-requests/${row.request_id}`,
      },
      body: JSON.stringify({
        requestId: row.request_id,
        scheduleId: row.schedule_id,
        status: 'queued',
        position,
      }),
    };
    if (await completeKey(db, k.scope, k.key, k.token, outcome)) return outcome;
    const { rows: done } = await db.query<{ response: StoredOutcome | null }>(
      'SELECT response FROM idempotency_keys WHERE principal = $1 AND idem_key = $2',
      [k.scope, k.key],
    );
    return done[0]?.response ?? outcome;
  });
}
