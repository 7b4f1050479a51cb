/**
 * GET /v1/booking-requests/{id}?wait=N (docs/adr/0015): a rush-mode booking request, queued with
 * its position or final with its outcome (and the Booking-Checkpoint to read the write). `wait`
 * holds the answer up to N ≤ 10 seconds until the processor decides it: the processor NOTIFYs in
 * the transaction that decides it, and one LISTEN connection per process wakes the waiters — no
 * polling. Readable by the requesting patient, a hospital of the schedule's institution, an admin.
 */
import { type RequestHandler, Router } from 'express';
import pg from 'pg';
import { requireRole, principalOf, type Principal } from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import type { PatientVault } from '../platform/patient-vault.ts';
import type { Pool } from '../platform/pg.ts';
import type { Logger } from '../platform/logger.ts';
import { DECIDED_CHANNEL, finalReply } from '../requests/batch-writer.ts';
import type { RequestOutcome } from '../requests/request-message.ts';
import { send } from './command-route.ts';
import { bookingRequestRoute } from './route-specs.ts';
import { methodNotAllowed } from './routes.ts';
import { databaseUnavailableAs503 } from './rush-modes.ts';

/** One LISTEN connection; resolves waiters by request id. Connects on first use, again after a loss. */
export class DecisionListener {
  readonly #connectionString: string;
  readonly #logger: Logger | undefined;
  readonly #waiters = new Map<string, Set<() => void>>();
  #client: Promise<pg.Client> | undefined;
  #closed = false;

  constructor(connectionString: string, logger?: Logger) {
    this.#connectionString = connectionString;
    this.#logger = logger;
  }

  /** Resolves when `requestId` is decided or after `ms`; call `listening` first, then re-read. */
  async wait(requestId: string, ms: number, stillOpen: () => Promise<boolean>): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const set = this.#waiters.get(requestId) ?? new Set();
    set.add(wake);
    this.#waiters.set(requestId, set);
    const timer = setTimeout(wake, ms);
    try {
      await this.#listen().catch((err: unknown) =>
        this.#logger?.warn({ err }, 'LISTEN failed: waiting out the time'),
      );
      // Decided between the first read and LISTEN: answer now.
      if (!(await stillOpen())) return;
      await woken;
    } finally {
      clearTimeout(timer);
      set.delete(wake);
      if (set.size === 0) this.#waiters.delete(requestId);
    }
  }

  #listen(): Promise<pg.Client> {
    if (this.#closed) return Promise.reject(new Error('closed'));
    this.#client ??= (async () => {
      const client = new pg.Client({
        connectionString: this.#connectionString,
        application_name: 'command-api-listen',
      });
      client.on('notification', (n) => {
        if (n.payload) for (const wake of this.#waiters.get(n.payload) ?? []) wake();
      });
      client.on('error', () => {
        this.#client = undefined;
        client.end().catch(() => undefined);
      });
      await client.connect();
      await client.query(`LISTEN ${DECIDED_CHANNEL}`);
      return client;
    })();
    this.#client.catch(() => (this.#client = undefined));
    return this.#client;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}

interface Row {
  request_id: string;
  schedule_id: string;
  patient_ref: string;
  status: 'pending' | 'queued' | 'booked' | 'rejected';
  kafka_partition: number | null;
  kafka_offset: string | null;
  decided_offset: string | null;
  outcome: RequestOutcome | null;
  checkpoint: string | null;
  institution_id: string | null;
}

export interface BookingRequestRouteDeps {
  pool: Pool;
  listener: DecisionListener;
  topic: string;
  patients: Pick<PatientVault, 'refFor'>;
}

const final = (row: Row) => row.status === 'booked' || row.status === 'rejected';

export function bookingRequestRoutes(deps: BookingRequestRouteDeps): Router {
  const router = Router();
  router
    .route(bookingRequestRoute.path)
    .get(requireRole(...bookingRequestRoute.auth.roles), databaseUnavailableAs503(getRequest(deps)))
    .all(methodNotAllowed('GET'));
  return router;
}

function getRequest(deps: BookingRequestRouteDeps): RequestHandler {
  const read = async (id: string) => {
    const { rows } = await deps.pool.query<Row>({
      name: 'booking_request_read',
      text: `SELECT r.request_id, r.schedule_id, r.patient_ref, r.status, r.kafka_partition, r.kafka_offset,
                    p.decided_offset, r.outcome, r.checkpoint, s.institution_id
               FROM booking_requests r
               LEFT JOIN rush_schedules s ON s.schedule_id = r.schedule_id
               LEFT JOIN booking_request_progress p ON p.topic = $2 AND p.kafka_partition = r.kafka_partition
              WHERE r.request_id = $1`,
      values: [id, deps.topic],
    });
    return rows[0];
  };
  return async (req, res) => {
    const { requestId } = parseOrThrow(bookingRequestRoute.params, req.params, 'bad_parameter');
    const { wait } = parseOrThrow(bookingRequestRoute.query, req.query, 'bad_parameter');
    let row = await read(requestId);
    if (!row) throw new AppError('not_found', 'No such booking request');
    await authorize(deps, principalOf(req), row);
    if (!final(row) && wait > 0) {
      await deps.listener.wait(requestId, wait * 1000, async () => {
        row = (await read(requestId)) ?? row;
        return !final(row!);
      });
      row = (await read(requestId)) ?? row;
    }
    res.setHeader('Cache-Control', 'private, no-store');
    if (final(row))
      return send(res, finalReply(row.request_id, row.schedule_id, row.outcome!, row.checkpoint), false);
    const position =
      row.kafka_offset === null
        ? 1
        : Math.max(1, Number(BigInt(row.kafka_offset) - BigInt(row.decided_offset ?? '-1')));
    res
      .status(200)
      .json({ requestId: row.request_id, scheduleId: row.schedule_id, status: 'queued', position });
  };
}

async function authorize(deps: BookingRequestRouteDeps, principal: Principal, row: Row): Promise<void> {
  if (principal.role === 'admin') return;
  if (
    principal.role === 'hospital' &&
    principal.institutionId !== undefined &&
    principal.institutionId === row.institution_id
  )
    return;
  if (
    principal.role === 'patient' &&
    (await deps.patients.refFor(principal.sub, { create: false })) === row.patient_ref
  )
    return;
  throw new AppError(
    'forbidden',
    'Only the requesting patient, their hospital or an admin may read this request',
  );
}
