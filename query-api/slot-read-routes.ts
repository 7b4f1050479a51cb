/**
 * The read routes of numbered slots (issue 15, docs/adr/0012): a schedule's slots (public, cached
 * like the doctor's schedules), the patient's own appointments and a doctor's day list for the
 * hospital (private, never cached). Each honours Booking-Checkpoint: the read bypasses the cache
 * and waits (bounded) until a schedule it shows has applied the write.
 */
import type { Request, Response, Router } from 'express';
import { authenticate, principalOf } from '../platform/http/auth.ts';
import { AppError } from '../platform/http/errors.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import { guardPostgres } from './appointment-access.ts';
import { hospitalDayStart } from '../read-models/hospital-date.ts';
import { STALE_HEADER } from './cache/send-cached.ts';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.ts';
import { Deps, guardRedis } from './read-models/redis-reads.ts';
import type { SlotReader } from './read-models/slot-reader.ts';
import { type ListPosition } from './read-models/slot-reader.ts';
import { scheduleStreamName } from '../domain/schedule.ts';
import { type ClientWaits, clientOf } from './client-waits.ts';
import { loadUntil, reached, requestedCheckpoint, requireIssued } from './read-your-writes.ts';
import { dayListRoute, patientAppointmentsRoute, scheduleSlotsRoute } from './route-specs.ts';
import type { RouteDeps } from './routes.ts';

/** routes.ts's read through both cache levels (false: the resource is missing). */
export type CachedRead = (
  req: Request,
  res: Response,
  route: string,
  key: string,
  build: (deps: Deps) => Promise<unknown>,
  opts?: { bookings?: boolean; untilMs?: number },
) => Promise<boolean>;

const DAY_MS = 86_400_000;

/** The route deps this file needs, plus where the booking read model lives and the waits' bound. */
export type SlotReadDeps = Pick<RouteDeps, 'config' | 'jwt' | 'appointments' | 'clock'> & {
  slots: SlotReader;
  waits: ClientWaits;
};

/** Which schedule's checkpoint decides whether the patient's list shows the write at `checkpoint`. */
async function judgeOf(deps: SlotReadDeps, checkpoint: string): Promise<'list' | { scheduleId: string }> {
  const stream = await guardPostgres(() => deps.appointments.streamAt(checkpoint));
  const prefix = scheduleStreamName('');
  return stream?.startsWith(prefix) ? { scheduleId: stream.slice(prefix.length) } : 'list';
}

/** Sends a read-your-writes answer: never cached, marked when the checkpoint was not reached. */
function sendFresh(res: Response, body: unknown, fresh: boolean, cacheControl = 'no-store'): void {
  if (!fresh) res.setHeader(STALE_HEADER, 'checkpoint-not-reached');
  res.setHeader('Cache-Control', cacheControl);
  res.json(body);
}

/** Registers the routes on the query API's router. */
export function registerSlotReadRoutes(router: Router, deps: SlotReadDeps, cached: CachedRead): void {
  const now = deps.clock ?? (() => new Date());
  const { slots, config, waits } = deps;
  const wait = config.QUERY_RYW_TIMEOUT_MS;

  router.get(scheduleSlotsRoute.path, async (req, res) => {
    const { id } = parseOrThrow(scheduleSlotsRoute.params, req.params, 'bad_parameter');
    const checkpoint = requestedCheckpoint(req);
    await requireIssued(deps.appointments, checkpoint);
    if (checkpoint) {
      const { value, fresh } = await guardRedis(() =>
        waits.run(clientOf(req), wait, (ms) =>
          loadUntil(
            () => slots.schedule(id, now(), new Deps()),
            (r) => r !== null && reached(r.checkpoint, checkpoint),
            ms,
          ),
        ),
      );
      if (!value) throw new AppError('schedule_not_found', `No schedule ${id}`);
      sendFresh(res, { schedule: value.schedule }, fresh);
      return;
    }
    const found = await cached(
      req,
      res,
      scheduleSlotsRoute.path,
      `schedule-slots:${id}`,
      async (d) => {
        const r = await slots.schedule(id, now(), d);
        return r ? { schedule: r.schedule } : null;
      },
      { bookings: true },
    );
    if (!found) throw new AppError('schedule_not_found', `No schedule ${id}`);
  });

  router.get(patientAppointmentsRoute.path, authenticate({ jwt: deps.jwt }), async (req, res) => {
    const q = parseOrThrow(patientAppointmentsRoute.query, req.query, 'bad_parameter');
    const principal = principalOf(req);
    if (principal.role !== 'patient')
      throw new AppError('forbidden', 'Only a patient has a list of their own; staff read the day list');
    const fingerprint = queryFingerprint({ list: 'patient-appointments' });
    const after = positionOf(decodeCursor(q.cursor, fingerprint));
    const checkpoint = requestedCheckpoint(req);
    await requireIssued(deps.appointments, checkpoint);
    // The patient's reference from the vault: a patient who never booked (or was forgotten) has none.
    const ref = await guardPostgres(() => deps.appointments.patientRefOf(principal.sub));
    if (ref === undefined) {
      sendFresh(res, { items: [], limit: q.limit, nextCursor: null }, true, 'private, no-store');
      return;
    }
    // The list spans schedules projected in parallel (one Kafka partition each): the write asked
    // about is visible once ITS schedule reached the checkpoint; another schedule being further
    // says nothing about it. A checkpoint of no schedule's event falls back to the whole list.
    const judge = checkpoint ? await judgeOf(deps, checkpoint) : 'page';
    const { value, fresh } = await guardRedis(() =>
      waits.run(clientOf(req, principal), checkpoint ? wait : 0, (ms) =>
        loadUntil(
          () => slots.patientPage(ref, after, q.limit, new Deps(), judge),
          (page) => !checkpoint || page.checkpoints.some((cp) => reached(cp, checkpoint)),
          ms,
        ),
      ),
    );
    sendFresh(
      res,
      {
        items: value.items,
        limit: q.limit,
        nextCursor: value.next ? encodeCursor(fingerprint, [value.next.score, value.next.id]) : null,
      },
      fresh,
      'private, no-store',
    );
  });

  router.get(dayListRoute.path, authenticate({ jwt: deps.jwt }), async (req, res) => {
    const { id } = parseOrThrow(dayListRoute.params, req.params, 'bad_parameter');
    const q = parseOrThrow(dayListRoute.query, req.query, 'bad_parameter');
    const principal = principalOf(req);
    if (principal.role === 'patient' || (principal.role === 'hospital' && principal.institutionId !== id))
      throw new AppError('forbidden', "Only the institution's hospital or an admin reads its day list");
    const checkpoint = requestedCheckpoint(req);
    await requireIssued(deps.appointments, checkpoint);
    const from = hospitalDayStart(q.date);
    const { value, fresh } = await guardRedis(() =>
      waits.run(clientOf(req, principal), checkpoint ? wait : 0, (ms) =>
        loadUntil(
          () => slots.dayList(q.doctorId, id, from, from + DAY_MS - 1, now(), new Deps()),
          (day) => !checkpoint || day.some((s) => reached(s.checkpoint, checkpoint)),
          ms,
        ),
      ),
    );
    sendFresh(
      res,
      {
        institutionId: id,
        doctorId: q.doctorId,
        date: q.date,
        schedules: value.map((s) => ({ ...s.schedule, appointments: s.appointments })),
      },
      fresh,
      'private, no-store',
    );
  });
}

/** A patient-list cursor is [score, id]; anything else was not made by this API. */
function positionOf(after: (string | number)[] | undefined): ListPosition | undefined {
  if (after === undefined) return undefined;
  const [score, id] = after;
  if (after.length === 2 && typeof score === 'number' && Number.isFinite(score) && typeof id === 'string')
    return { score, id };
  throw new AppError('bad_parameter', 'Invalid cursor', {
    invalidParams: [{ name: 'cursor', reason: 'not a cursor returned by this API' }],
  });
}
