/**
 * The OpenAPI documents against what the APIs really do: every route the Express apps register is
 * in the document (and nothing else is), the documents are valid OpenAPI 3.1, and real responses
 * match the documented status, headers and body: a success and a problem of every API route
 * (/v1), a success of every operational one. The last test fails on any documented operation
 * checked less than that, unless CHECKED_ELSEWHERE names the file that checks it.
 */
import { randomUUID } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { RedisClient } from '../../platform/redis.ts';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientDocuments } from '../../clients/generate.ts';
import { type ScheduleEvent, scheduleStreamName } from '../../domain/schedule.ts';
import { keyspace, type ScheduleView } from '../../read-models/bookings.ts';
import { scheduleEffects } from '../../projections/redis/read-model.ts';
import { addDays } from '../../domain/session-time.ts';
import { errorCodes } from '../../platform/http/errors.ts';
import { createKafka, ensureTopics } from '../../platform/kafka.ts';
import { givenCatalogDoctor, hospitalToday, nextSessionDate } from '../support/catalog-mother.ts';
import {
  anOpenScheduleRequest,
  type Harness,
  newKey,
  startCommandApi,
  TEST_SECRET,
} from '../support/command-api-harness.ts';
import {
  createCatalogPipeline,
  insertInstitution,
  waitForSnapshotDrained,
  type CatalogPipeline,
} from '../support/catalog-pipeline.ts';
import {
  capture,
  conformance,
  type Conformance,
  documentedRoutes,
  registeredRoutes,
  coveredStatuses,
  type CapturedResponse,
} from '../support/openapi-conformance.ts';
import { startQueryInstance, type QueryInstance } from '../support/query-api-harness.ts';
import { testConfig } from '../support/test-config.ts';
import { uniqueName, waitFor } from '../support/wait.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const config = testConfig();
let commands: Harness;
let p: CatalogPipeline;
let query: QueryInstance;
let noSearch: QueryInstance;
let commandDoc: Json;
let queryDoc: Json;
/** One checker per document for the whole file: what they covered is asserted at the end. */
let commandChecks: Conformance;
let queryChecks: Conformance;
const readModelRoot = uniqueName('rm');
const institutionIds: number[] = [];

beforeAll(async () => {
  // A small per-patient budget, so the RateLimit headers and a 429 are part of the contract run.
  commands = await startCommandApi({
    patientRateLimiter: new RateLimiterMemory({ points: 5, duration: 60 }),
  });
  p = await createCatalogPipeline(config, { tag: 'oapi' });
  await p.applyConnector();
  await p.startProjection();
  await waitForSnapshotDrained(p);
  // A generous Redis timeout: fail-fast reads are the degradation test's subject, not this one's.
  const names = {
    catalogPrefix: p.keys.prefix,
    searchAlias: p.alias,
    readModelRoot,
    jwtSecret: TEST_SECRET,
    queryConfig: { QUERY_REDIS_TIMEOUT_MS: 1000 },
  };
  query = await startQueryInstance(config, names);
  noSearch = await startQueryInstance(config, { ...names, searchAlias: uniqueName('missing') });
  commandDoc = (await (await fetch(`${commands.baseUrl}/openapi.json`)).json()) as Json;
  queryDoc = (await (await fetch(`${query.baseUrl}/openapi.json`)).json()) as Json;
  commandChecks = conformance(commandDoc);
  queryChecks = conformance(queryDoc);
}, 240_000);

afterAll(async () => {
  await query?.close();
  await noSearch?.close();
  await commands?.stop();
  if (p && institutionIds.length)
    await p.db.query('DELETE FROM institutions WHERE id = ANY($1)', [institutionIds]);
  await p?.cleanup();
});

describe('the documents', () => {
  it('are valid OpenAPI 3.1', async () => {
    for (const doc of [commandDoc, queryDoc]) {
      const result = await new Validator().validate(doc);
      expect(result.errors ?? [], String(doc.info.title)).toEqual([]);
      expect(result.valid).toBe(true);
      expect(doc.openapi).toMatch(/^3\.1\./);
    }
  });

  it('list exactly the routes the Express apps register', () => {
    const cmd = registeredRoutes(commands.api.app);
    const qry = registeredRoutes(query.api.app);
    console.log(`[openapi] command API routes: ${cmd.join(', ')}`);
    console.log(`[openapi] query API routes: ${qry.join(', ')}`);
    expect(documentedRoutes(commandDoc)).toEqual(cmd);
    expect(documentedRoutes(queryDoc)).toEqual(qry);
  });

  it('are the documents the clients are generated from', () => {
    expect(commandDoc).toEqual(clientDocuments['command-api.d.ts']);
    expect(queryDoc).toEqual(clientDocuments['query-api.d.ts']);
  });

  it('describe the bearer scheme and every problem type with its page', () => {
    for (const doc of [commandDoc, queryDoc]) {
      expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(doc.components.schemas.Problem.properties.code.enum).toEqual(errorCodes);
    }
  });
});

const get = (base: string, path: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { headers }).then(capture);

const post = (path: string, opts: { token?: string; key?: string | null; body?: unknown }) =>
  fetch(`${commands.baseUrl}${path}`, {
    method: 'POST',
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.key === null ? {} : { 'idempotency-key': opts.key ?? newKey() }),
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: opts.body === undefined ? null : JSON.stringify(opts.body),
  }).then(capture);

const json = (res: CapturedResponse): Json => JSON.parse(res.text) as Json;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const expectStatus = (res: CapturedResponse, status: number) => {
  expect(res.status, res.text).toBe(status);
  return res;
};

describe('command API responses', () => {
  let hospital: string;
  let patientId: string;
  let patient: string;
  let scheduleId: string;
  let appointmentId: string;

  beforeAll(async () => {
    hospital = await commands.tokenFor({ ...commands.hospital, sub: 'hospital-oapi' });
    patientId = `patient-${randomUUID().slice(0, 12)}`;
    patient = await commands.tokenFor({ sub: patientId, role: 'patient' });
    // The rush queue's topic (this run's own), as the request processor creates it (requests/start.ts):
    // no processor runs here, and a later file's finds it as it would have made it.
    const admin = createKafka(config).admin();
    await admin.connect();
    await ensureTopics(admin, [
      { topic: config.BOOKING_REQUESTS_TOPIC, numPartitions: 6, replicationFactor: 1 },
    ]).finally(() => admin.disconnect());
  });

  it('match the document: success and problems of every command', async () => {
    const { check } = commandChecks;

    const openBody = anOpenScheduleRequest(commands.catalog, { capacity: 1 });
    const opened = expectStatus(await post('/v1/schedules', { token: hospital, body: openBody }), 201);
    check('post', '/v1/schedules', opened);
    scheduleId = String(json(opened).scheduleId);
    const rejectedOpen = async (body: unknown, status: number, code: string) => {
      const res = expectStatus(await post('/v1/schedules', { token: hospital, body }), status);
      check('post', '/v1/schedules', res);
      expect(json(res).code).toBe(code);
    };
    await rejectedOpen(openBody, 409, 'session_already_scheduled');
    await rejectedOpen({ ...openBody, doctorId: '999999999999' }, 422, 'catalog_reference_invalid');
    await rejectedOpen({ ...openBody, date: addDays(hospitalToday(), 365) }, 422, 'date_outside_horizon');
    check(
      'post',
      '/v1/schedules',
      expectStatus(await post('/v1/schedules', { token: patient, body: {} }), 403),
    );
    check(
      'post',
      '/v1/schedules',
      expectStatus(await post('/v1/schedules', { token: hospital, body: { x: 1 } }), 400),
    );
    check(
      'post',
      '/v1/schedules',
      expectStatus(await post('/v1/schedules', { token: hospital, key: null, body: {} }), 400),
    );
    check('post', '/v1/schedules', expectStatus(await post('/v1/schedules', { body: {} }), 401));

    const key = newKey();
    const booked = expectStatus(
      await post('/v1/appointments', { token: patient, key, body: { scheduleId, patientId } }),
      201,
    );
    check('post', '/v1/appointments', booked);
    expect(booked.headers.get('ratelimit-remaining')).toBe('3');
    appointmentId = String(json(booked).appointmentId);
    const replayed = await post('/v1/appointments', { token: patient, key, body: { scheduleId, patientId } });
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    check('post', '/v1/appointments', replayed);
    const reused = await post('/v1/appointments', {
      token: patient,
      key,
      body: { scheduleId: randomUUID(), patientId },
    });
    check('post', '/v1/appointments', expectStatus(reused, 422));
    const full = await post('/v1/appointments', {
      token: hospital,
      body: { scheduleId, patientId: 'someone-else' },
    });
    check('post', '/v1/appointments', expectStatus(full, 409));
    expect(json(full).code).toBe('schedule_full');

    const capacity = `/v1/schedules/${scheduleId}/capacity`;
    check(
      'post',
      '/v1/schedules/{scheduleId}/capacity',
      expectStatus(await post(capacity, { token: hospital, body: { capacity: 3 } }), 200),
    );
    const unknown = `/v1/schedules/${randomUUID()}/capacity`;
    check(
      'post',
      '/v1/schedules/{scheduleId}/capacity',
      expectStatus(await post(unknown, { token: hospital, body: { capacity: 3 } }), 404),
    );

    const cancel = `/v1/appointments/${appointmentId}/cancel`;
    check(
      'post',
      '/v1/appointments/{appointmentId}/cancel',
      expectStatus(await post(cancel, { token: patient }), 200),
    );
    check(
      'post',
      '/v1/appointments/{appointmentId}/cancel',
      expectStatus(await post(cancel, { token: hospital }), 409),
    );
    // The patient's budget (5 commands a minute) is spent: the sixth is refused with Retry-After.
    const limited = expectStatus(await post(cancel, { token: patient }), 429);
    check('post', '/v1/appointments/{appointmentId}/cancel', limited);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const unknownCancel = `/v1/appointments/${randomUUID()}/cancel`;
    check(
      'post',
      '/v1/appointments/{appointmentId}/cancel',
      expectStatus(await post(unknownCancel, { token: hospital }), 404),
    );

    const close = `/v1/schedules/${scheduleId}/close`;
    check(
      'post',
      '/v1/schedules/{scheduleId}/close',
      expectStatus(await post(close, { token: hospital, body: { reason: 'ill' } }), 200),
    );
    check(
      'post',
      '/v1/schedules/{scheduleId}/close',
      expectStatus(await post(close, { token: hospital, body: { reason: 'ill' } }), 409),
    );
  });

  it('match the document: numbered schedules, waitlist, attendance, admin and rush commands', async () => {
    const { check } = commandChecks;
    const admin = await commands.tokenFor({ sub: 'admin-oapi', role: 'admin' });
    const send = async (template: string, path: string, status: number, opts: Parameters<typeof post>[1]) =>
      json(check('post', template, expectStatus(await post(path, opts), status)));
    const read = async (template: string, path: string, status: number, token: string) =>
      json(check('get', template, expectStatus(await get(commands.baseUrl, path, bearer(token)), status)));
    // A doctor of its own, so its sessions collide with no other schedule of this file.
    const aDoctor = () =>
      givenCatalogDoctor(commands.pool, { institutionId: commands.catalog.institutionId });

    // Two numbered places with a fee: each booking holds its slot until the payment confirms it.
    const numbered = anOpenScheduleRequest(await aDoctor(), {
      capacity: 2,
      slots: { firstSlotTime: '08:00', intervalMinutes: 10, count: 2 },
    });
    const { scheduleId: id } = await send('/v1/schedules', '/v1/schedules', 201, {
      token: hospital,
      body: numbered,
    });
    const book = async (patient: string) =>
      String(
        (
          await send('/v1/appointments', '/v1/appointments', 201, {
            token: hospital,
            body: { scheduleId: id, patientId: patient },
          })
        ).appointmentId,
      );
    const patientA = `patient-${randomUUID().slice(0, 12)}`;
    const [first, second] = [await book(patientA), await book(`patient-${randomUUID().slice(0, 12)}`)];
    const pay = '/v1/appointments/{appointmentId}/confirm-payment';
    for (const appointment of [first, second])
      await send(pay, `/v1/appointments/${appointment}/confirm-payment`, 200, {
        token: hospital,
        body: { paymentRef: `pay-${randomUUID().slice(0, 8)}`, amount: numbered.fee },
      });
    await send(pay, `/v1/appointments/${randomUUID()}/confirm-payment`, 404, {
      token: hospital,
      body: { paymentRef: 'pay-none', amount: numbered.fee },
    });

    // Both slots taken: a third patient may wait for one, and leave the list again.
    const waitlist = `/v1/schedules/${id}/waitlist`;
    const { entryId } = await send('/v1/schedules/{scheduleId}/waitlist', waitlist, 201, {
      token: hospital,
      body: { patientId: `patient-${randomUUID().slice(0, 12)}` },
    });
    const leave = '/v1/schedules/{scheduleId}/waitlist/{entryId}/leave';
    await send(leave, `${waitlist}/${String(entryId)}/leave`, 200, { token: hospital });
    await send(leave, `${waitlist}/${String(entryId)}/leave`, 404, { token: hospital });
    await send('/v1/schedules/{scheduleId}/waitlist', `/v1/schedules/${randomUUID()}/waitlist`, 404, {
      token: hospital,
      body: { patientId: `patient-${randomUUID().slice(0, 12)}` },
    });

    // Attendance is recorded on the session's day (check-in) and after its last slot (no-show).
    commands.clock.now = () => new Date(`${numbered.date}T12:00:00+08:00`);
    try {
      await send('/v1/appointments/{appointmentId}/check-in', `/v1/appointments/${first}/check-in`, 200, {
        token: hospital,
      });
      await send('/v1/appointments/{appointmentId}/no-show', `/v1/appointments/${second}/no-show`, 200, {
        token: hospital,
      });
      await send('/v1/appointments/{appointmentId}/no-show', `/v1/appointments/${first}/no-show`, 409, {
        token: hospital,
      });
      await send('/v1/appointments/{appointmentId}/check-in', `/v1/appointments/${second}/check-in`, 409, {
        token: hospital,
      });
    } finally {
      commands.clock.now = () => new Date();
    }

    const forget = '/v1/patients/{patientId}/forget';
    await send(forget, `/v1/patients/${patientA}/forget`, 200, { token: admin });
    await send(forget, `/v1/patients/nobody-${randomUUID().slice(0, 8)}/forget`, 404, { token: admin });
    await send(forget, `/v1/patients/${patientA}/forget`, 403, { token: hospital });
    await read('/v1/audit', '/v1/audit?actorId=admin-oapi&limit=5', 200, admin);
    await read('/v1/audit', '/v1/audit', 403, hospital);

    // Rush mode: a booking is queued (202) and its request read back while it waits.
    const rushed = await send('/v1/schedules', '/v1/schedules', 201, {
      token: hospital,
      body: anOpenScheduleRequest(await aDoctor()),
    });
    const rush = `/v1/schedules/${String(rushed.scheduleId)}/rush`;
    await send('/v1/schedules/{scheduleId}/rush', rush, 200, { token: hospital, body: { enabled: true } });
    await send('/v1/schedules/{scheduleId}/rush', `/v1/schedules/${randomUUID()}/rush`, 404, {
      token: hospital,
      body: { enabled: true },
    });
    const queued = await send('/v1/appointments', '/v1/appointments', 202, {
      token: hospital,
      body: { scheduleId: rushed.scheduleId, patientId: `patient-${randomUUID().slice(0, 12)}` },
    });
    const request = '/v1/booking-requests/{requestId}';
    await read(request, `/v1/booking-requests/${String(queued.requestId)}`, 200, hospital);
    await read(request, `/v1/booking-requests/${randomUUID()}`, 404, hospital);
    // Switched off again (the queued request is left to whichever request processor runs next).
    await send('/v1/schedules/{scheduleId}/rush', rush, 200, { token: hospital, body: { enabled: false } });
  });

  it('operations, documentation and problem pages match the document', async () => {
    await checkOperations(commands.baseUrl, commandChecks);
  });
});

/** /healthz, /readyz, /openapi.json, /docs (and its assets) and /problems/{code}; no /metrics (admin port). */
async function checkOperations(base: string, { check }: Conformance) {
  for (const path of ['/healthz', '/readyz', '/openapi.json', '/docs']) {
    const res = await get(base, path);
    expect(res.status, path).toBe(200);
    check('get', path, res);
  }
  expect((await get(base, '/metrics')).status).toBe(404);
  const page = await get(base, '/docs');
  for (const asset of page.text.match(/\/docs\/assets\/[\w.-]+/g) ?? []) {
    expect((await get(base, asset)).status, asset).toBe(200);
  }
  for (const code of errorCodes) {
    const html = await get(base, `/problems/${code}`);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    check('get', '/problems/{code}', html);
    const data = await get(base, `/problems/${code}`, { accept: 'application/json' });
    check('get', '/problems/{code}', data);
    expect(json(data)).toMatchObject({ code, type: `/problems/${code}` });
  }
  check('get', '/problems/{code}', await get(base, '/problems/no_such_problem'));
}

/** Applies a schedule stream's events to the booking read models as the Redis projector does. */
async function projectSchedule(redis: RedisClient, pool: Harness['pool'], scheduleId: string) {
  const { rows } = await pool.query<{ event_type: string; data: Json; stream_revision: string }>(
    'SELECT event_type, data, stream_revision FROM events WHERE stream_id = $1 ORDER BY stream_revision',
    [scheduleStreamName(scheduleId)],
  );
  const keys = keyspace(readModelRoot, 1);
  let view: ScheduleView | null = null;
  for (const row of rows) {
    const event = { type: row.event_type, data: row.data } as ScheduleEvent;
    const effect = scheduleEffects(view, event, Number(row.stream_revision), keys);
    view = effect.view;
    for (const op of effect.ops) await redis.call(op.cmd, op.key, ...op.args);
    await redis.hset(keys.schedule(scheduleId), 'rev', row.stream_revision);
  }
}

describe('query API responses', () => {
  let institutionId: number;
  let doctorId: string;
  let sessionDate: string;
  let scheduleId: string;
  let appointmentId: string;
  const patientId = `patient-${randomUUID().slice(0, 12)}`;
  const city = uniqueName('契约市');

  beforeAll(async () => {
    institutionId = await insertInstitution(p.db, { name: '契约测试医院', alias_names: ['契约'], city });
    institutionIds.push(institutionId);
    const doctor = await givenCatalogDoctor(p.db, { institutionId: String(institutionId) });
    doctorId = doctor.doctorId;
    sessionDate = nextSessionDate();
    const hospital = await commands.tokenFor({
      sub: 'hospital-oapi',
      role: 'hospital',
      institutionId: doctor.institutionId,
    });
    const opened = await post('/v1/schedules', {
      token: hospital,
      // Numbered, so its slots, the patient's list and the day list have something to show.
      body: anOpenScheduleRequest(doctor, {
        date: sessionDate,
        slots: { firstSlotTime: '08:00', intervalMinutes: 10, count: 5 },
      }),
    });
    scheduleId = String(json(opened).scheduleId);
    const booked = await post('/v1/appointments', { token: hospital, body: { scheduleId, patientId } });
    appointmentId = String(json(booked).appointmentId);
    await projectSchedule(p.redis, commands.pool, scheduleId);
    await waitFor(
      async () => {
        const res = await fetch(
          `${query.baseUrl}/v1/search/institutions?q=${encodeURIComponent('契约')}&city=${encodeURIComponent(city)}`,
        );
        const body = (await res.json()) as { items?: unknown[] };
        return res.status === 200 && body.items?.length ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the institution in Redis and search' },
    );
  });

  it('match the document: success and problems of every read', async () => {
    const { check } = queryChecks;
    const read = async (
      template: string,
      path: string,
      status: number,
      headers: Record<string, string> = {},
    ) => {
      const res = await get(query.baseUrl, path, headers);
      expect(res.status, `${path}: ${res.text}`).toBe(status);
      check('get', template, res);
      return res;
    };
    const q = encodeURIComponent;
    const home = await read('/v1/homepage', `/v1/homepage?city=${q(city)}`, 200);
    await read('/v1/homepage', `/v1/homepage?city=${q(city)}`, 304, {
      'if-none-match': home.headers.get('etag')!,
    });
    await read('/v1/homepage', '/v1/homepage', 400);
    await read('/v1/institutions', `/v1/institutions?city=${q(city)}`, 200);
    await read('/v1/institutions', '/v1/institutions?limit=500', 400);
    await read('/v1/institutions/{id}', `/v1/institutions/${institutionId}`, 200);
    await read('/v1/institutions/{id}', `/v1/institutions/${institutionId}`, 200); // from memory
    await read('/v1/institutions/{id}', '/v1/institutions/99999999999', 404);
    await read('/v1/institutions/{id}/departments', `/v1/institutions/${institutionId}/departments`, 200);
    await read('/v1/institutions/{id}/departments', '/v1/institutions/99999999998/departments', 404);
    await read('/v1/institutions/{id}/doctors', `/v1/institutions/${institutionId}/doctors`, 200);
    await read('/v1/institutions/{id}/doctors', '/v1/institutions/99999999997/doctors', 404);
    await read(
      '/v1/doctors/{id}/schedules',
      `/v1/doctors/${doctorId}/schedules?from=${sessionDate}&to=${sessionDate}`,
      200,
    );
    await read(
      '/v1/doctors/{id}/schedules',
      `/v1/doctors/${doctorId}/schedules?from=${sessionDate}&to=${sessionDate}`,
      400, // a checkpoint beyond the event store's head: refused before any wait
      {
        'booking-checkpoint': '999999999:0',
      },
    );
    await read('/v1/doctors/{id}/schedules', '/v1/doctors/nobody-oapi/schedules', 404);
    await read('/v1/doctors/{id}/schedules', '/v1/doctors/x/schedules?from=2030-02-30', 400);
    await read('/v1/search/institutions', `/v1/search/institutions?q=${q('契约')}&city=${q(city)}`, 200);
    await read('/v1/search/institutions', '/v1/search/institutions', 400);
    await read('/v1/search/suggest', `/v1/search/suggest?q=${q('契')}&city=${q(city)}`, 200);
    await read('/v1/search/suggest', '/v1/search/suggest?limit=99&q=a', 400);
    const unavailable = await get(noSearch.baseUrl, `/v1/search/institutions?q=x`);
    expect(unavailable.status).toBe(503);
    check('get', '/v1/search/institutions', unavailable);

    const token = async (sub: string, role: 'patient' | 'hospital') => ({
      authorization: `Bearer ${await commands.tokenFor(role === 'hospital' ? { sub, role, institutionId: String(institutionId) } : { sub, role })}`,
    });
    const mine = await token(patientId, 'patient');
    await read('/v1/appointments/{id}', `/v1/appointments/${appointmentId}`, 200, mine);
    await read('/v1/appointments/{id}', `/v1/appointments/${appointmentId}`, 401);
    await read(
      '/v1/appointments/{id}',
      `/v1/appointments/${appointmentId}`,
      403,
      await token('someone', 'patient'),
    );
    await read(
      '/v1/appointments/{id}',
      `/v1/appointments/${randomUUID()}`,
      404,
      await token('h', 'hospital'),
    );

    const slots = await read('/v1/schedules/{id}/slots', `/v1/schedules/${scheduleId}/slots`, 200);
    expect(json(slots).schedule.slots).toHaveLength(5);
    await read('/v1/schedules/{id}/slots', `/v1/schedules/${randomUUID()}/slots`, 404);
    const list = '/v1/patients/me/appointments';
    expect(json(await read(list, `${list}?limit=2`, 200, mine)).items).toHaveLength(1);
    await read(list, list, 401);
    await read(list, list, 403, await token('h', 'hospital'));
    const dayList = `/v1/institutions/${institutionId}/day-list`;
    const day = `${dayList}?doctorId=${doctorId}&date=${sessionDate}`;
    const staff = await token('h', 'hospital');
    const ofTheDay = await read('/v1/institutions/{id}/day-list', day, 200, staff);
    expect(json(ofTheDay).schedules).toHaveLength(1);
    await read('/v1/institutions/{id}/day-list', day, 403, mine);
    await read('/v1/institutions/{id}/day-list', dayList, 400, staff);
  });

  it('operations, documentation and problem pages match the document', async () => {
    await checkOperations(query.baseUrl, queryChecks);
  });
});

/**
 * Operations checked by another file, not here: the live flow rules need a flow controller of
 * their own (tests/int/flow-live-rules.int.spec.ts checks these three against the same document).
 */
const CHECKED_ELSEWHERE = {
  command: ['GET /v1/admin/flow', 'GET /v1/admin/flow-rules', 'PUT /v1/admin/flow-rules'],
  query: [],
} as const;

/**
 * What this file has not checked of a document: an operation without any response checked, an
 * API route (/v1) without a success or without a problem (4xx). Operations in `elsewhere` aside.
 */
function gaps(document: Json, { covered }: Conformance, elsewhere: readonly string[]): string[] {
  const statuses = coveredStatuses(covered);
  return documentedRoutes(document)
    .filter((operation) => !elsewhere.includes(operation))
    .flatMap((operation) => {
      const seen = statuses.get(operation) ?? [];
      if (seen.length === 0) return [`${operation}: no response`];
      if (!operation.includes(' /v1/')) return [];
      return [
        ...(seen.some((s) => s < 300) ? [] : [`${operation}: no success`]),
        ...(seen.some((s) => s >= 400 && s < 500) ? [] : [`${operation}: no problem`]),
      ];
    });
}

// Last in the file: runs after every response above was checked (tests run in order).
describe('coverage', () => {
  it('every documented operation had its real responses checked, here or in the file named', () => {
    expect(gaps(commandDoc, commandChecks, CHECKED_ELSEWHERE.command)).toEqual([]);
    expect(gaps(queryDoc, queryChecks, CHECKED_ELSEWHERE.query)).toEqual([]);
    // An allowlisted operation must still be documented (a removed route leaves no stale entry).
    expect(documentedRoutes(commandDoc)).toEqual(expect.arrayContaining([...CHECKED_ELSEWHERE.command]));
  });
});
