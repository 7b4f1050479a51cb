import { Router, type Request, type Response } from 'express';
import type { Counter } from 'prom-client';
import { authenticate, type JwtInput, type Principal, principalOf } from '../platform/http/auth.ts';
import { type AppointmentAccess, guardPostgres } from './appointment-access.ts';
import { AppError } from '../platform/http/errors.ts';
import { parseOrThrow } from '../platform/http/zod-problem.ts';
import type { SearchEngine } from '../platform/search/index.ts';
import { hospitalDate, hospitalDayStart } from '../read-models/hospital-date.ts';
import { publish } from '../read-models/published-columns.ts';
import type { Row } from '../read-models/catalog.ts';
import { makeCachedResponse } from './cache/cached-response.ts';
import { sendCached, STALE_HEADER } from './cache/send-cached.ts';
import type { TwoLevelCache } from './cache/two-level-cache.ts';
import type { QueryApiConfig } from './config.ts';
import type { FastRoutes } from './fast-path.ts';
import { decodeCursor, encodeCursor, queryFingerprint } from './cursor.ts';
import { searchHandler } from './search-route.ts';
import { suggestHandler } from './suggest-route.ts';
import { suggestInstitutionsRoute } from './suggest-route-spec.ts';
import type { BookingReader } from './read-models/booking-reader.ts';
import type { CatalogReader } from './read-models/catalog-reader.ts';
import { Deps, guardRedis } from './read-models/redis-reads.ts';
import { ClientWaits, clientOf } from './client-waits.ts';
import { loadUntil, reached, requestedCheckpoint, requireIssued } from './read-your-writes.ts';
import { registerSlotReadRoutes } from './slot-read-routes.ts';
import {
  appointmentRoute,
  doctorSchedulesRoute,
  homepageRoute,
  institutionDepartmentsRoute,
  institutionDoctorsRoute,
  institutionRoute,
  institutionsRoute,
  searchInstitutionsRoute,
} from './route-specs.ts';

export interface RouteDeps {
  cache: TwoLevelCache;
  catalog: CatalogReader;
  bookings: BookingReader;
  search: SearchEngine;
  searchAlias: string;
  config: QueryApiConfig;
  /** Keys and checks of the bearer tokens (GET /v1/appointments/{id}). */
  jwt: JwtInput;
  outcomes: Counter<'route' | 'outcome'>;
  fastRoutes: FastRoutes;
  /** False while Redis does not answer: whatever the cache serves then is marked stale. */
  redisReady: () => boolean;
  /** appointment_index, the event store's head and the patient vault (PostgreSQL). */
  appointments: AppointmentAccess;
  /** True while the projectors rebuild a lost booking read model: booking answers are marked stale. */
  rebuilding?: () => boolean;
  clock?: () => Date;
}

const DAY_MS = 86_400_000;
/** What a loader returns for a resource that does not exist (cached too, so misses stay cheap). */
const MISSING = null;
const addDays = (date: string, n: number) =>
  hospitalDate(new Date(hospitalDayStart(date) + n * DAY_MS).toISOString());

export function queryRoutes(deps: RouteDeps): Router {
  const router = Router();
  const { cache, catalog, bookings, config } = deps;
  const now = deps.clock ?? (() => new Date());
  const { outcomes } = deps;
  const waits = new ClientWaits(config.QUERY_RYW_WAITS_PER_CLIENT);

  /** A read through both cache levels; Redis errors become a stale copy or a 503. */
  const cached = async (
    req: Request,
    res: Response,
    route: string,
    key: string,
    build: (deps: Deps) => Promise<unknown>,
    opts: { bookings?: boolean; untilMs?: number } = {},
  ): Promise<boolean> => {
    const result = await cache
      .get(key, () =>
        guardRedis(async () => {
          const d = new Deps();
          const payload = await build(d);
          return makeCachedResponse(payload, d.list(), Date.now(), payload === MISSING);
        }),
      )
      .catch((err: unknown) => {
        outcomes.inc({ route, outcome: 'l2-error' });
        throw err;
      });
    const missed = result.outcome === 'l2-load' && result.entry.missing;
    outcomes.inc({ route, outcome: missed ? 'l2-miss' : result.outcome });
    if (result.entry.missing) return false;
    const fellBack = result.outcome === 'l1-stale-fallback';
    const stale =
      fellBack || (result.outcome !== 'l2-load' && !deps.redisReady())
        ? 'redis-unavailable'
        : opts.bookings && deps.rebuilding?.()
          ? 'read-model-rebuilding'
          : undefined;
    if (!stale) deps.fastRoutes.remember(req.originalUrl, key, route, opts.untilMs);
    sendCached(req, res, result.entry, { outcome: result.outcome, stale });
    return true;
  };

  router.get(homepageRoute.path, async (req, res) => {
    const q = parseOrThrow(homepageRoute.query, req.query, 'bad_parameter');
    const today = hospitalDate(now().toISOString());
    await cached(
      req,
      res,
      homepageRoute.path,
      `homepage:${q.city}:${q.videoSize}:${q.scienceSize}:${today}`,
      async (d) => {
        const at = now();
        const tabs = (names: readonly string[], size: number) =>
          Promise.all(
            names.map(async (tab) => ({
              tab,
              items: (await catalog.content(tab, q.city, at, size, d)).map(publishContent),
            })),
          );
        const [banners, featured, videos, science] = await Promise.all([
          catalog.content(config.HOMEPAGE_BANNER_TAB, q.city, at, 5, d),
          catalog.page(
            'institutions',
            catalog.keys.institutionsByCity(q.city),
            undefined,
            config.HOMEPAGE_FEATURED,
            d,
          ),
          tabs(config.HOMEPAGE_VIDEO_TABS, q.videoSize),
          tabs(config.HOMEPAGE_SCIENCE_TABS, q.scienceSize),
        ]);
        const stats = await bookings.todayStats(
          today,
          featured.items.map((i) => String(i.id)),
          config.HOMEPAGE_HOT_DEPARTMENTS,
          d,
        );
        const departments = await catalog.docs(
          'departments',
          stats.hotDepartments.map((h) => h.departmentId),
          d,
        );
        const deptById = new Map(departments.map((dep) => [String(dep.id), dep]));
        return {
          city: q.city,
          date: today,
          banners: banners.map(publishContent),
          featuredInstitutions: featured.items.map((i) => ({
            ...publish('institutions', i),
            bookingsToday: stats.byInstitution[String(i.id)] ?? 0,
          })),
          hotDepartments: stats.hotDepartments.map((h) => {
            const dep = deptById.get(h.departmentId);
            return {
              ...h,
              name: dep?.name ?? null,
              category: dep?.category ?? null,
              institutionId: dep?.institution_id ?? null,
            };
          }),
          videos,
          science,
          stats: { date: today, totalBookings: stats.totalBookings },
        };
      },
      // The key holds today's date: from midnight on, the URL names tomorrow's page.
      { bookings: true, untilMs: hospitalDayStart(addDays(today, 1)) },
    );
  });

  router.get(institutionsRoute.path, async (req, res) => {
    const q = parseOrThrow(institutionsRoute.query, req.query, 'bad_parameter');
    const filter = { city: q.city, level: q.level, category: q.category };
    const fingerprint = queryFingerprint(filter);
    const after = decodeCursor(q.cursor, fingerprint)?.[0];
    if (after !== undefined && typeof after !== 'string') {
      throw new AppError('bad_parameter', 'Invalid cursor', {
        invalidParams: [{ name: 'cursor', reason: 'malformed' }],
      });
    }
    const index = listIndex(catalog, filter);
    await cached(
      req,
      res,
      institutionsRoute.path,
      `institutions:${index}:${after ?? ''}:${q.limit}`,
      async (d) => {
        const page = await catalog.page('institutions', index, after, q.limit, d);
        return {
          items: page.items.map(publishInstitution),
          limit: q.limit,
          nextCursor: page.next ? encodeCursor(fingerprint, [page.next]) : null,
        };
      },
    );
  });

  router.get(institutionRoute.path, async (req, res) => {
    const { id } = parseOrThrow(institutionRoute.params, req.params, 'bad_parameter');
    const found = await cached(req, res, institutionRoute.path, `institution:${id}`, async (d) => {
      const institution = await catalog.doc('institutions', id, d);
      return institution ? { institution: publish('institutions', institution) } : MISSING;
    });
    if (!found) throw new AppError('institution_not_found', `No institution ${id}`);
  });

  router.get(institutionDepartmentsRoute.path, async (req, res) => {
    const { id } = parseOrThrow(institutionDepartmentsRoute.params, req.params, 'bad_parameter');
    const found = await cached(
      req,
      res,
      institutionDepartmentsRoute.path,
      `institution-departments:${id}`,
      async (d) => {
        // Both reads at once: a reload is one round trip shorter, and requests wait on it.
        const [institution, page] = await Promise.all([
          catalog.doc('institutions', id, d),
          catalog.page('departments', catalog.keys.departmentsByInstitution(id), undefined, 500, d),
        ]);
        if (!institution) return MISSING;
        return { institutionId: id, departments: page.items.map((r) => publish('departments', r)) };
      },
    );
    if (!found) throw new AppError('institution_not_found', `No institution ${id}`);
  });

  router.get(institutionDoctorsRoute.path, async (req, res) => {
    const { id } = parseOrThrow(institutionDoctorsRoute.params, req.params, 'bad_parameter');
    const found = await cached(
      req,
      res,
      institutionDoctorsRoute.path,
      `institution-doctors:${id}`,
      async (d) => {
        const [institution, page] = await Promise.all([
          catalog.doc('institutions', id, d),
          catalog.page('doctors', catalog.keys.doctorsByInstitution(id), undefined, 500, d),
        ]);
        if (!institution) return MISSING;
        return { institutionId: id, doctors: page.items.map((r) => publish('doctors', r)) };
      },
    );
    if (!found) throw new AppError('institution_not_found', `No institution ${id}`);
  });

  router.get(doctorSchedulesRoute.path, async (req, res) => {
    const { id } = parseOrThrow(doctorSchedulesRoute.params, req.params, 'bad_parameter');
    const q = parseOrThrow(doctorSchedulesRoute.query, req.query, 'bad_parameter');
    const from = q.from ?? hospitalDate(now().toISOString());
    const to = q.to ?? addDays(from, 14);
    if (to < from) {
      throw new AppError('bad_parameter', 'to must not be before from', {
        invalidParams: [{ name: 'to', reason: `must not be before ${from}` }],
      });
    }
    if (hospitalDayStart(to) - hospitalDayStart(from) > 92 * DAY_MS) {
      throw new AppError('bad_parameter', 'The range may span at most 92 days', {
        invalidParams: [{ name: 'to', reason: 'at most 92 days after from' }],
      });
    }
    const load = async (d: Deps) => {
      const schedules = await bookings.doctorSchedules(
        id,
        hospitalDayStart(from),
        hospitalDayStart(to) + DAY_MS - 1,
        d,
        now(),
      );
      return { schedules, doctor: schedules.length ? null : await catalog.doc('doctors', id, d) };
    };
    const shape = (r: Awaited<ReturnType<typeof load>>) => ({
      doctorId: id,
      from,
      to,
      schedules: r.schedules.map(({ checkpoint: _cp, ...s }) => s),
    });
    const unknown = (r: Awaited<ReturnType<typeof load>>) => r.schedules.length === 0 && r.doctor === null;
    const checkpoint = requestedCheckpoint(req);
    await requireIssued(deps.appointments, checkpoint);
    if (checkpoint) {
      // Read-your-writes: bypass the cache and wait (bounded) for the projector to apply the write.
      // A doctor the catalog does not know has nothing to wait for: 404 on the first load.
      const { value, fresh } = await guardRedis(() =>
        waits.run(clientOf(req), config.QUERY_RYW_TIMEOUT_MS, (ms) =>
          loadUntil(
            () => load(new Deps()),
            (r) => unknown(r) || r.schedules.some((s) => reached(s.checkpoint, checkpoint)),
            ms,
          ),
        ),
      );
      if (unknown(value)) throw new AppError('doctor_not_found', `No doctor ${id}`);
      if (!fresh) res.setHeader(STALE_HEADER, 'checkpoint-not-reached');
      res.setHeader('Cache-Control', 'no-store');
      res.json(shape(value));
      return;
    }
    const found = await cached(
      req,
      res,
      doctorSchedulesRoute.path,
      `doctor-schedules:${id}:${from}:${to}`,
      async (d) => {
        const r = await load(d);
        return unknown(r) ? MISSING : shape(r);
      },
      // Without `from` the range starts today: the URL names another range from midnight on.
      { bookings: true, ...(q.from ? {} : { untilMs: hospitalDayStart(addDays(from, 1)) }) },
    );
    if (!found) throw new AppError('doctor_not_found', `No doctor ${id}`);
  });

  router.get(searchInstitutionsRoute.path, searchHandler(deps));
  router.get(suggestInstitutionsRoute.path, suggestHandler(deps));

  router.get(appointmentRoute.path, authenticate({ jwt: deps.jwt }), async (req, res) => {
    const { id } = parseOrThrow(appointmentRoute.params, req.params, 'bad_parameter');
    const principal = principalOf(req);
    const checkpoint = requestedCheckpoint(req);
    const { appointments } = deps;
    // Authorise first, from the command side's index: an unknown id or a reader who may not see it
    // is answered at once, never after a read-your-writes wait (docs/adr/0010).
    const indexed = await guardPostgres(() => appointments.find(id));
    if (!indexed) throw new AppError('appointment_not_found', `No appointment ${id}`);
    // A hospital's or an admin's read of a patient's appointment is audited, allowed or denied.
    const { role } = principal;
    const audit = (outcome: 'allowed' | 'denied') =>
      role === 'patient'
        ? Promise.resolve()
        : guardPostgres(() =>
            appointments.audit({
              actor: { role, id: principal.sub, institutionId: principal.institutionId },
              action: 'appointment.read',
              outcome,
              subject: { type: 'appointment', id },
              detail: { scheduleId: indexed.scheduleId },
            }),
          );
    const check = (institutionId: string | null, patientRef: string | null) =>
      authorise(principal, institutionId, patientRef, appointments).catch(async (err: unknown) => {
        if (err instanceof AppError && err.code === 'forbidden') await audit('denied');
        throw err;
      });
    await check(indexed.institutionId, indexed.patientRef);
    await requireIssued(appointments, checkpoint);
    const { value, fresh } = await guardRedis(() =>
      waits.run(clientOf(req, principal), checkpoint ? config.QUERY_RYW_TIMEOUT_MS : 0, (ms) =>
        loadUntil(
          () => bookings.appointment(id, new Deps()),
          (a) => a !== null && (!checkpoint || reached(a.checkpoint, checkpoint)),
          ms,
        ),
      ),
    );
    res.setHeader('Cache-Control', 'private, no-store');
    if (!value || (checkpoint && !fresh)) {
      await audit('allowed');
      // It exists (the index says so) but the read model has not caught up: what the command side knows.
      res.setHeader(STALE_HEADER, checkpoint ? 'checkpoint-not-reached' : 'not-projected-yet');
      res.status(202).json({
        appointment: {
          appointmentId: id,
          scheduleId: indexed.scheduleId,
          status: 'pending',
          patientId: null,
        },
      });
      return;
    }
    const { patientRef, patient, ...view } = value.view;
    // Rows indexed before the index knew institution and holder: authorise from the read model.
    if (indexed.institutionId === null || indexed.patientRef === null) {
      await check(view.institutionId ?? null, patientRef ?? null);
    }
    await audit('allowed');
    const patientId =
      patientRef && patient ? ((await appointments.patientIdOf(patientRef, patient)) ?? null) : null;
    res.json({ appointment: { ...view, patientId } });
  });

  registerSlotReadRoutes(router, { ...deps, slots: bookings.slots, waits }, cached);

  return router;
}

const publishContent = (row: Row): Row => publish('homepage_content', row);
const publishInstitution = (row: Row): Row => publish('institutions', row);

function listIndex(catalog: CatalogReader, f: { city?: string; level?: string; category?: string }): string {
  const k = catalog.keys;
  if (f.category) {
    if (f.city || f.level) {
      throw new AppError('bad_parameter', 'category cannot be combined with city or level', {
        invalidParams: [{ name: 'category', reason: 'supported filters: city, city+level, category' }],
      });
    }
    return k.institutionsByCategory(f.category);
  }
  if (f.level && !f.city) {
    throw new AppError('bad_parameter', 'level needs city', {
      invalidParams: [{ name: 'level', reason: 'filter by city and level together' }],
    });
  }
  if (f.city && f.level) return k.institutionsByCityLevel(f.city, f.level);
  if (f.city) return k.institutionsByCity(f.city);
  return k.institutionsAll;
}

/**
 * Who may read an appointment: an admin; a hospital of the appointment's institution; the patient
 * who holds it (their reference, from the vault, equals the holder's). A null fact (an old index
 * row) is checked by the caller once the read model supplied it.
 */
async function authorise(
  principal: Principal,
  institutionId: string | null,
  patientRef: string | null,
  appointments: Pick<AppointmentAccess, 'patientRefOf'>,
): Promise<void> {
  if (principal.role === 'admin') return;
  if (principal.role === 'hospital') {
    if (institutionId !== null && principal.institutionId !== institutionId) {
      throw new AppError('forbidden', "A hospital may only read its own institution's appointments");
    }
    return;
  }
  if (patientRef === null) return;
  const own = await guardPostgres(() => appointments.patientRefOf(principal.sub));
  if (own !== patientRef) throw new AppError('forbidden', 'A patient may only read their own appointments');
}
